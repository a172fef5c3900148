"""Evaluation metrics: the confusion matrix and group fairness.

Two small families, each stated once with its convention:

* **Confusion-matrix metrics.** :class:`ConfusionCounts` holds the four counts of a binary
  classifier (label ``1`` is the positive class) and derives accuracy, precision, recall,
  specificity, F1 and friends from them. A rate whose denominator is zero is ``nan``.
* **Group fairness.** Every difference is **unprivileged minus privileged**, and
  :func:`disparate_impact` is the ratio **unprivileged over privileged**, as in AIF360
  (Bellamy et al. 2019). The privileged group is the rows whose ``group`` equals
  ``privileged``; every other row is unprivileged. A difference of 0 (a ratio of 1) is parity.

OOD-detection metrics live in :mod:`trustworthy_lib.ood`.

Everything is vectorised with NumPy and works on lists, NumPy arrays or pandas Series.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = [
    "ConfusionCounts",
    "confusion_counts",
    "group_confusion",
    "group_rates",
    "demographic_parity_difference",
    "disparate_impact",
    "equal_opportunity_difference",
    "false_positive_rate_difference",
    "average_odds_difference",
    "equalized_odds_difference",
    "predictive_parity_difference",
]


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else math.nan


# ---------------------------------------------------------------------------
# The confusion matrix


@dataclass(frozen=True)
class ConfusionCounts:
    """The four counts of a binary confusion matrix, and the rates derived from them.

    ``tp`` true positives, ``fp`` false positives, ``fn`` false negatives, ``tn`` true
    negatives. With :math:`n = TP + FP + FN + TN`:

    * accuracy :math:`(TP + TN) / n`;
    * precision (positive predictive value) :math:`TP / (TP + FP)`;
    * recall (sensitivity, true positive rate) :math:`TP / (TP + FN)`;
    * specificity (true negative rate) :math:`TN / (TN + FP)`;
    * false positive rate :math:`FP / (FP + TN) = 1 - \\text{specificity}`;
    * F1 :math:`2 TP / (2 TP + FP + FN)`, the harmonic mean of precision and recall;
    * balanced accuracy, the mean of recall and specificity;
    * prevalence (base rate) :math:`(TP + FN) / n` and selection rate :math:`(TP + FP) / n`.

    A rate whose denominator is zero (for example precision when nothing is predicted
    positive) is ``nan``, so an undefined number is never mistaken for a real 0.

    >>> cm = ConfusionCounts(tp=8, fp=2, fn=4, tn=86)
    >>> round(cm.precision, 3), round(cm.recall, 3), cm.accuracy
    (0.8, 0.667, 0.94)
    """

    tp: int
    fp: int
    fn: int
    tn: int

    def __post_init__(self):
        for name in ("tp", "fp", "fn", "tn"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be a whole number of samples, got {value!r}")
            if value < 0:
                raise ValueError(f"{name} is a count and cannot be negative, got {value}")
            object.__setattr__(self, name, int(value))
        if self.n == 0:
            raise ValueError("all four counts are zero; a confusion matrix needs at least one sample")

    @classmethod
    def from_labels(cls, y_true, y_pred) -> "ConfusionCounts":
        """Count TP, FP, FN and TN from 0/1 labels and 0/1 predictions (see :func:`confusion_counts`)."""
        return confusion_counts(y_true, y_pred)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def accuracy(self) -> float:
        return _ratio(self.tp + self.tn, self.n)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def true_positive_rate(self) -> float:
        return self.recall

    @property
    def specificity(self) -> float:
        return _ratio(self.tn, self.tn + self.fp)

    @property
    def false_positive_rate(self) -> float:
        return _ratio(self.fp, self.fp + self.tn)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def balanced_accuracy(self) -> float:
        return (self.recall + self.specificity) / 2

    @property
    def prevalence(self) -> float:
        return _ratio(self.tp + self.fn, self.n)

    @property
    def selection_rate(self) -> float:
        return _ratio(self.tp + self.fp, self.n)

    def rates(self) -> dict[str, float]:
        """All derived rates as a dict (handy for a one-row DataFrame)."""
        names = (
            "accuracy",
            "precision",
            "recall",
            "specificity",
            "false_positive_rate",
            "f1",
            "balanced_accuracy",
            "prevalence",
            "selection_rate",
        )
        return {name: getattr(self, name) for name in names}

    def as_dict(self) -> dict[str, int]:
        """The four counts as a dict."""
        return asdict(self)


def _as_1d(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one entry per sample), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one sample")
    return arr


def _binary(values, name: str) -> np.ndarray:
    arr = _as_1d(values, name)
    if arr.dtype.kind == "b":
        return arr.astype(np.int8)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers 0 and 1 (or booleans), got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; drop or fill the missing entries first")
    bad = np.setdiff1d(np.unique(arr), [0, 1])
    if bad.size:
        raise ValueError(
            f"{name} must contain only 0 (negative) and 1 (positive), but it also contains "
            f"{bad[:5].tolist()}; threshold scores or map class names to 0/1 first"
        )
    return arr.astype(np.int8)


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"inputs must have one entry per sample, but {described}")


def confusion_counts(y_true, y_pred) -> ConfusionCounts:
    """Count true/false positives and negatives for 0/1 labels, with ``1`` the positive class.

    Agrees with ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()``,
    which orders the counts ``tn, fp, fn, tp``.

    Raises
    ------
    ValueError
        If the inputs are empty, not one-dimensional, of different lengths, contain NaN,
        or contain values other than 0 and 1.
    """
    t = _binary(y_true, "y_true")
    p = _binary(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    # one bincount over the four cells: index = 2 * truth + prediction
    cells = np.bincount(2 * t.astype(np.int64) + p, minlength=4)
    tn, fp, fn, tp = (int(c) for c in cells)
    return ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=tn)


# ---------------------------------------------------------------------------
# Group fairness


def _group_masks(group, privileged, n: int) -> tuple[np.ndarray, np.ndarray]:
    g = _as_1d(group, "group")
    if len(g) != n:
        raise ValueError(f"group must have one entry per sample: it has {len(g)}, the labels have {n}")
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise ValueError("group contains NaN; every sample needs a group value")
    priv = g == privileged
    if not priv.any():
        values = pd.unique(pd.Series(g))[:10].tolist()
        raise ValueError(
            f"no sample has group == {privileged!r} (the privileged value); the group values "
            f"present are {values}"
        )
    if priv.all():
        raise ValueError(
            f"every sample has group == {privileged!r}; there is no unprivileged group to compare"
        )
    return ~priv, priv


def group_confusion(y_true, y_pred, group, privileged) -> dict[str, ConfusionCounts]:
    """Confusion counts of the unprivileged and the privileged group.

    Returns ``{"unprivileged": ConfusionCounts, "privileged": ConfusionCounts}``. The
    privileged group is every sample with ``group == privileged``; every other sample is
    unprivileged.
    """
    t = _binary(y_true, "y_true")
    p = _binary(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    unpriv, priv = _group_masks(group, privileged, len(t))
    return {
        "unprivileged": confusion_counts(t[unpriv], p[unpriv]),
        "privileged": confusion_counts(t[priv], p[priv]),
    }


def group_rates(y_true, y_pred, group) -> pd.DataFrame:
    """One row per group value: size, base rate, selection rate, TPR, FPR, precision, accuracy.

    The columns are the quantities the three families of group-fairness definitions compare:
    selection rate (demographic parity), TPR and FPR (equalised odds / equal opportunity),
    and precision (predictive parity).
    """
    t = _binary(y_true, "y_true")
    p = _binary(y_pred, "y_pred")
    g = _as_1d(group, "group")
    _same_length(y_true=t, y_pred=p, group=g)
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise ValueError("group contains NaN; every sample needs a group value")
    df = pd.DataFrame({"t": t, "p": p, "tp": t & p, "fp": (1 - t) & p, "g": g})
    agg = df.groupby("g").agg(n=("t", "size"), pos=("t", "sum"), sel=("p", "sum"), tp=("tp", "sum"), fp=("fp", "sum"))
    neg = agg["n"] - agg["pos"]
    out = pd.DataFrame(
        {
            "n": agg["n"],
            "base_rate": agg["pos"] / agg["n"],
            "selection_rate": agg["sel"] / agg["n"],
            "true_positive_rate": agg["tp"] / agg["pos"].where(agg["pos"] > 0),
            "false_positive_rate": agg["fp"] / neg.where(neg > 0),
            "precision": agg["tp"] / agg["sel"].where(agg["sel"] > 0),
            "accuracy": (agg["tp"] + neg - agg["fp"]) / agg["n"],
        }
    )
    out.index.name = "group"
    return out


def demographic_parity_difference(y_pred, group, privileged) -> float:
    """Statistical (demographic) parity difference: :math:`P(\\hat Y=1 \\mid U) - P(\\hat Y=1 \\mid P)`.

    The selection rate of the unprivileged group minus that of the privileged group; 0 is
    parity. Needs no true labels. Called ``statistical_parity_difference`` in AIF360;
    fairlearn's ``demographic_parity_difference`` is its absolute value for two groups.
    See Dwork et al. (2012), "Fairness through awareness".
    """
    p = _binary(y_pred, "y_pred")
    unpriv, priv = _group_masks(group, privileged, len(p))
    return float(p[unpriv].mean() - p[priv].mean())


def disparate_impact(y_pred, group, privileged) -> float:
    """Disparate impact ratio: :math:`P(\\hat Y=1 \\mid U) / P(\\hat Y=1 \\mid P)`.

    1 is parity; the US "four-fifths rule" flags values below 0.8. ``nan`` if the
    privileged group has no positive predictions. Feldman et al. (2015).
    """
    p = _binary(y_pred, "y_pred")
    unpriv, priv = _group_masks(group, privileged, len(p))
    return _ratio(p[unpriv].mean(), p[priv].mean())


def _rate_gap(y_true, y_pred, group, privileged, rate: str) -> float:
    cms = group_confusion(y_true, y_pred, group, privileged)
    return getattr(cms["unprivileged"], rate) - getattr(cms["privileged"], rate)


def equal_opportunity_difference(y_true, y_pred, group, privileged) -> float:
    """Equal opportunity difference: :math:`TPR_U - TPR_P` (Hardt, Price and Srebro 2016).

    Among people whose true label is positive, the difference in the fraction the model
    predicts positive. 0 means equal opportunity. ``nan`` if a group has no positives.
    """
    return _rate_gap(y_true, y_pred, group, privileged, "true_positive_rate")


def false_positive_rate_difference(y_true, y_pred, group, privileged) -> float:
    """False positive rate difference: :math:`FPR_U - FPR_P`.

    Together with :func:`equal_opportunity_difference` it makes up equalised odds.
    """
    return _rate_gap(y_true, y_pred, group, privileged, "false_positive_rate")


def average_odds_difference(y_true, y_pred, group, privileged) -> float:
    """Average odds difference: :math:`\\tfrac12[(FPR_U - FPR_P) + (TPR_U - TPR_P)]`, as in AIF360.

    Signed, so a gap in TPR can cancel an opposite gap in FPR; look at both, or at
    :func:`equalized_odds_difference`.
    """
    cms = group_confusion(y_true, y_pred, group, privileged)
    u, p = cms["unprivileged"], cms["privileged"]
    return 0.5 * ((u.false_positive_rate - p.false_positive_rate) + (u.recall - p.recall))


def equalized_odds_difference(y_true, y_pred, group, privileged) -> float:
    """Equalised odds difference: :math:`\\max(|TPR_U - TPR_P|, |FPR_U - FPR_P|)`.

    Equalised odds (Hardt, Price and Srebro 2016) asks for equal TPR *and* equal FPR across
    groups; this is the larger of the two gaps, so it is never negative (the one
    exception to the signed convention of this module). It matches fairlearn's
    ``equalized_odds_difference`` for two groups.
    """
    cms = group_confusion(y_true, y_pred, group, privileged)
    u, p = cms["unprivileged"], cms["privileged"]
    return float(max(abs(u.recall - p.recall), abs(u.false_positive_rate - p.false_positive_rate)))


def predictive_parity_difference(y_true, y_pred, group, privileged) -> float:
    """Predictive parity difference: :math:`PPV_U - PPV_P`, the gap in precision.

    Predictive parity (Chouldechova 2017) asks that a positive prediction be right equally
    often in each group. It is the thresholded form of calibration within groups.
    ``nan`` if a group has no positive predictions.
    """
    return _rate_gap(y_true, y_pred, group, privileged, "precision")
