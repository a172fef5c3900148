"""Evaluation metrics: the confusion matrix and group fairness.

Two small families, each stated once with its convention:

* **Confusion-matrix metrics.** :class:`ConfusionCounts` holds the four counts of a
  binary classifier (label ``1`` is the positive class) and derives accuracy, precision,
  recall, specificity, F1 and friends from them. A rate whose denominator is zero is
  ``nan``.
* **Group fairness, by name.** :func:`disparate_impact`,
  :func:`equal_opportunity_difference` and the others are one-line wrappers over the
  single engine :func:`trustworthy_lib.fairness.group_metrics`, so they share its
  conventions: the argument ``protected`` with exactly two groups and no missing label,
  ``privileged`` (default 1) naming the privileged one, differences unprivileged minus
  privileged, and ``undefined="raise"`` (default) or ``"nan"`` for a metric whose
  denominator is zero. :func:`group_rates` tabulates the per-group rates for any number
  of groups.

OOD-detection metrics live in :mod:`trustworthy_lib.ood_metrics`.

Everything is vectorised with NumPy and works on lists, NumPy arrays or pandas Series.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from trustworthy_lib._validation import (
    check_binary,
    check_group_labels,
    check_same_length,
)
from trustworthy_lib.fairness import (
    _confusion_counts,
    _div,
    _prepare,
    group_metrics,
)

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
    * prevalence (base rate) :math:`(TP + FN) / n` and selection rate
      :math:`(TP + FP) / n`.

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
                raise ValueError(
                    f"{name} must be a whole number of samples, got {value!r}"
                )
            if value < 0:
                raise ValueError(
                    f"{name} is a count and cannot be negative, got {value}"
                )
            object.__setattr__(self, name, int(value))
        if self.n == 0:
            raise ValueError(
                "all four counts are zero; a confusion matrix needs at least one sample"
            )

    @classmethod
    def from_labels(cls, y_true, y_pred) -> ConfusionCounts:
        """Count TP, FP, FN and TN from 0/1 labels and 0/1 predictions.

        See :func:`confusion_counts`.
        """
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


def confusion_counts(y_true, y_pred) -> ConfusionCounts:
    """Count true/false positives and negatives for 0/1 labels (1 is positive).

    Agrees with
    ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()``, which
    orders the counts ``tn, fp, fn, tp``.

    Raises
    ------
    ValueError
        If the inputs are empty, not one-dimensional, of different lengths, contain NaN,
        or contain values other than 0 and 1.
    """
    t = check_binary(y_true, "y_true")
    p = check_binary(y_pred, "y_pred")
    check_same_length(y_true=t, y_pred=p)
    # one bincount over the four cells: index = 2 * truth + prediction
    cells = np.bincount(2 * t + p, minlength=4)
    tn, fp, fn, tp = (int(c) for c in cells)
    return ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=tn)


# ---------------------------------------------------------------------------
# Group fairness: named wrappers over trustworthy_lib.fairness.group_metrics


def group_confusion(
    y_true, y_pred, protected, privileged=1
) -> dict[str, ConfusionCounts]:
    """Confusion counts of the unprivileged and the privileged group.

    Returns ``{"unprivileged": ConfusionCounts, "privileged": ConfusionCounts}``, with
    the group rules of :func:`trustworthy_lib.fairness.group_metrics` (exactly two
    groups, none missing, ``privileged`` present).
    """
    t, p, priv = _prepare(y_true, y_pred, protected, privileged)
    C = _confusion_counts(priv, t, p).astype(np.int64)
    return {
        name: ConfusionCounts(
            tp=C[g, 1, 1], fp=C[g, 0, 1], fn=C[g, 1, 0], tn=C[g, 0, 0]
        )
        for g, name in ((0, "unprivileged"), (1, "privileged"))
    }


def group_rates(y_true, y_pred, protected) -> pd.DataFrame:
    """Per group: size, base rate, selection rate, TPR, FPR, precision and accuracy.

    The columns are the quantities the three families of group-fairness definitions
    compare: selection rate (demographic parity), TPR and FPR (equalised odds / equal
    opportunity), and precision (predictive parity). Unlike the two-group metrics, the
    table takes any number of groups; a missing group label is refused. A rate whose
    denominator is zero is NaN (look at ``n`` and ``base_rate`` to see why).
    """
    t = check_binary(y_true, "y_true")
    p = check_binary(y_pred, "y_pred")
    g = check_group_labels(protected, "protected")
    check_same_length(y_true=t, y_pred=p, protected=g)
    values, inv = np.unique(g, return_inverse=True)
    # counts[k, y, yhat] for group k, as in the two-group engine
    counts = np.bincount(4 * inv + 2 * t + p, minlength=4 * len(values))
    C = counts.reshape(len(values), 2, 2).astype(np.float64)
    n, pos, sel = C.sum(axis=(1, 2)), C[:, 1].sum(axis=1), C[:, :, 1].sum(axis=1)
    tp, fp, tn = C[:, 1, 1], C[:, 0, 1], C[:, 0, 0]
    out = pd.DataFrame(
        {
            "n": n.astype(np.int64),
            "base_rate": pos / n,
            "selection_rate": sel / n,
            "true_positive_rate": _div(tp, pos),
            "false_positive_rate": _div(fp, n - pos),
            "precision": _div(tp, sel),
            "accuracy": (tp + tn) / n,
        },
        index=pd.Index(values, name="group"),
    )
    return out


def _metric(name, y_true, y_pred, protected, privileged, undefined) -> float:
    return group_metrics(
        y_true, y_pred, protected, privileged, undefined, metrics=(name,)
    )[name]


def demographic_parity_difference(
    y_pred, protected, privileged=1, *, undefined: str = "raise"
) -> float:
    """Statistical (demographic) parity difference.

    That is :math:`P(\\hat Y=1 \\mid U) - P(\\hat Y=1 \\mid P)`.

    The selection rate of the unprivileged group minus that of the privileged group; 0
    is parity. Needs no true labels. Called ``statistical_parity_difference`` in AIF360;
    fairlearn's ``demographic_parity_difference`` is its absolute value for two groups.
    See Dwork et al. (2012), "Fairness through awareness".
    """
    name = "statistical_parity_difference"
    return _metric(name, None, y_pred, protected, privileged, undefined)


def disparate_impact(
    y_pred, protected, privileged=1, *, undefined: str = "raise"
) -> float:
    """Disparate impact ratio: :math:`P(\\hat Y=1 \\mid U) / P(\\hat Y=1 \\mid P)`.

    1 is parity; the US "four-fifths rule" flags values below 0.8. Undefined when the
    privileged group has no positive predictions. Feldman et al. (2015).
    """
    return _metric("disparate_impact", None, y_pred, protected, privileged, undefined)


def equal_opportunity_difference(
    y_true, y_pred, protected, privileged=1, *, undefined: str = "raise"
) -> float:
    """Equal opportunity difference: :math:`TPR_U - TPR_P` (Hardt et al. 2016).

    Among people whose true label is positive, the difference in the fraction the model
    predicts positive. 0 means equal opportunity. Undefined if a group has no positives.
    """
    name = "equal_opportunity_difference"
    return _metric(name, y_true, y_pred, protected, privileged, undefined)


def false_positive_rate_difference(
    y_true, y_pred, protected, privileged=1, *, undefined: str = "raise"
) -> float:
    """False positive rate difference: :math:`FPR_U - FPR_P`.

    Together with :func:`equal_opportunity_difference` it makes up equalised odds.
    """
    name = "false_positive_rate_difference"
    return _metric(name, y_true, y_pred, protected, privileged, undefined)


def average_odds_difference(
    y_true, y_pred, protected, privileged=1, *, undefined: str = "raise"
) -> float:
    """Average odds difference, as in AIF360.

    That is :math:`\\tfrac12[(FPR_U - FPR_P) + (TPR_U - TPR_P)]`.

    Signed, so a gap in TPR can cancel an opposite gap in FPR; look at both, or at
    :func:`equalized_odds_difference`.
    """
    name = "average_odds_difference"
    return _metric(name, y_true, y_pred, protected, privileged, undefined)


def equalized_odds_difference(
    y_true, y_pred, protected, privileged=1, *, undefined: str = "raise"
) -> float:
    """Equalised odds difference: :math:`\\max(|TPR_U - TPR_P|, |FPR_U - FPR_P|)`.

    Equalised odds (Hardt, Price and Srebro 2016) asks for equal TPR *and* equal FPR
    across groups; this is the larger of the two gaps, so it is never negative (the one
    exception to the signed convention). It matches fairlearn's
    ``equalized_odds_difference`` for two groups. If either gap is undefined (a group
    without positive or without negative labels) the whole is undefined.
    """
    name = "equalized_odds_difference"
    return _metric(name, y_true, y_pred, protected, privileged, undefined)


def predictive_parity_difference(
    y_true, y_pred, protected, privileged=1, *, undefined: str = "raise"
) -> float:
    """Predictive parity difference: :math:`PPV_U - PPV_P`, the gap in precision.

    Predictive parity (Chouldechova 2017) asks that a positive prediction be right
    equally often in each group: equal precision (PPV). It is not a form of calibration.
    A score calibrated within groups (a score ``s`` means the outcome has probability
    ``s`` in every group) can still give unequal PPV at a threshold when the groups'
    score distributions differ above the threshold; chapter 03 shows this on the COMPAS
    risk scores. Undefined if a group has no positive predictions.
    """
    name = "predictive_parity_difference"
    return _metric(name, y_true, y_pred, protected, privileged, undefined)
