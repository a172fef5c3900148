"""Evaluating out-of-distribution (OOD) detectors: metrics, thresholds and tables.

NumPy and pandas only: this module imports without torch, so scores from any detector
(scikit-learn, pytorch-ood, your own) can be evaluated here. The scores and detectors
themselves are in :mod:`trustworthy_lib.ood`.

**The convention, stated once: an OOD score is LARGER for outliers.** A sample is
flagged as OOD when its score is above a threshold and accepted as in-distribution (ID)
when it is at or below it.

* :func:`ood_metrics` (AUROC, AUPR-In/Out, FPR at 95% TPR), :func:`fpr_at_tpr` and
  :func:`threshold_at_tpr`;
* the three-way view (each ID class, and OOD) of a threshold:
  :func:`ood_confusion_matrix` and :func:`ood_threshold_sweep`;
* :func:`detector_table`: several detectors against several OOD sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from trustworthy_lib._validation import check_scores

__all__ = [
    "METRIC_NAMES",
    "OOD_LABEL",
    "detector_table",
    "fpr_at_tpr",
    "ood_confusion_matrix",
    "ood_metrics",
    "ood_threshold_sweep",
    "threshold_at_tpr",
]

#: Label that marks an OOD sample in ``y_true`` and an OOD decision in predictions.
OOD_LABEL = -1


# ---------------------------------------------------------------------------
# Metrics


def _tp_fp_curve(pos: np.ndarray, neg: np.ndarray):
    """Cumulative true and false positives at each distinct score, highest first."""
    scores = np.concatenate([pos, neg])
    is_pos = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    order = np.argsort(-scores, kind="mergesort")
    scores, is_pos = scores[order], is_pos[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tp = np.cumsum(is_pos)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return tp, fp


def _average_precision(pos: np.ndarray, neg: np.ndarray) -> float:
    """Average precision with positives scoring high, without interpolation.

    That is sum_n (R_n - R_{n-1}) P_n.
    """
    tp, fp = _tp_fp_curve(pos, neg)
    precision = tp / (tp + fp)
    recall = tp / len(pos)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def threshold_at_tpr(id_scores, tpr: float = 0.95) -> float:
    """Return the lowest threshold that accepts a fraction ``tpr`` of the ID samples.

    At least that fraction is accepted.

    A sample is accepted as ID when its score is at or below the threshold, so the
    threshold is the ``ceil(tpr * N)``-th smallest ID score.
    """
    s = np.sort(check_scores(id_scores, "id_scores"))
    if not 0 < tpr <= 1:
        raise ValueError(f"tpr must be in (0, 1], got {tpr!r}")
    rank = int(np.ceil(tpr * len(s) - 1e-9))
    return float(s[max(rank, 1) - 1])


def fpr_at_tpr(id_scores, ood_scores, tpr: float = 0.95, positive: str = "id") -> float:
    """False positive rate where the true positive rate first reaches ``tpr``.

    Scores are **larger for outliers**. Two definitions of "FPR95" are in use, so the
    positive class is an explicit argument:

    * ``positive="id"`` (default; Liang, Li and Srikant 2018, and most OOD papers): take
      the threshold that **keeps** (scores at or below it) at least a fraction ``tpr``
      of the ID samples (:func:`threshold_at_tpr`); return the fraction of **OOD samples
      still accepted**, the share of outliers that slip through when 95% of good inputs
      are kept. This is :func:`ood_metrics`' ``fpr_at_95_tpr``.
    * ``positive="ood"`` (pytorch-ood's ``FPRAtTPR``): take the largest threshold that
      flags (scores at or above it) at least a fraction ``tpr`` of the OOD samples;
      return the fraction of **ID samples wrongly flagged**, the share of good inputs
      rejected when 95% of the outliers are caught.

    Lower is better in both. They agree only by accident: say which one you report.
    """
    if (
        isinstance(tpr, bool)
        or not isinstance(tpr, (int, float, np.floating))
        or not 0.0 < float(tpr) <= 1.0
    ):
        raise ValueError(f"tpr must be a fraction in (0, 1], such as 0.95; got {tpr!r}")
    if positive not in ("id", "ood"):
        raise ValueError(
            "positive must be 'id' (ID samples are the positives) or 'ood', got "
            f"{positive!r}"
        )
    id_s = check_scores(id_scores, "id_scores")
    ood_s = check_scores(ood_scores, "ood_scores")
    if positive == "id":
        return float(np.mean(ood_s <= threshold_at_tpr(id_s, tpr)))
    # the mirror image: negate the scores and swap the roles of the two sets
    return float(np.mean(-id_s <= threshold_at_tpr(-ood_s, tpr)))


def ood_metrics(id_scores, ood_scores) -> dict[str, float]:
    """Standard OOD-detection metrics for one detector on one ID set and one OOD set.

    Conventions (scores are larger for outliers):

    * ``auroc``: area under the ROC curve with **OOD as the positive class**; the
      probability that a random OOD sample scores higher than a random ID sample (ties
      count one half). 0.5 is chance, 1 is perfect.
    * ``aupr_out``: average precision with OOD as the positive class.
    * ``aupr_in``: average precision with ID as the positive class (scores negated).
    * ``fpr_at_95_tpr``: the fraction of OOD samples **accepted as ID** at the threshold
      that accepts 95% of the ID samples (:func:`threshold_at_tpr`); lower is better.

    Average precision is sklearn's step-wise ``average_precision_score``; AUROC equals
    ``roc_auc_score``. Returns a dict of floats.
    """
    id_s = check_scores(id_scores, "id_scores")
    ood_s = check_scores(ood_scores, "ood_scores")
    tp, fp = _tp_fp_curve(ood_s, id_s)
    tpr = np.r_[0.0, tp / len(ood_s)]
    fpr = np.r_[0.0, fp / len(id_s)]
    auroc = float(
        np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
    )  # trapezoids; ties give the 1/2
    return {
        "auroc": auroc,
        "aupr_in": _average_precision(-id_s, -ood_s),
        "aupr_out": _average_precision(ood_s, id_s),
        "fpr_at_95_tpr": fpr_at_tpr(id_s, ood_s, 0.95, positive="id"),
    }


# ---------------------------------------------------------------------------
# Thresholds: the three-way view (each ID class, and OOD)


def _check_three_way(y_true, y_pred, scores, n_classes):
    scores = check_scores(scores, "scores")
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.ndim != 1 or len(arr) != len(scores):
            raise ValueError(
                f"{name} must be 1-D with one entry per score: got shape {arr.shape} "
                f"for {len(scores)} scores"
            )
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"{name} must hold integer class ids (and {OOD_LABEL} for OOD), got "
                f"dtype {arr.dtype}"
            )
    if n_classes is None:
        n_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if n_classes < 1:
        raise ValueError(
            "no ID class found: y_true and y_pred hold only OOD labels; pass n_classes"
        )
    bad_true = np.setdiff1d(np.unique(y_true), np.r_[OOD_LABEL, np.arange(n_classes)])
    if bad_true.size:
        raise ValueError(
            f"y_true contains unknown label(s) {bad_true.tolist()}: use ID class ids "
            f"0..{n_classes - 1} (encode_labels maps original ids) and {OOD_LABEL} for "
            "OOD samples"
        )
    bad_pred = np.setdiff1d(np.unique(y_pred), np.arange(n_classes))
    if bad_pred.size:
        raise ValueError(
            f"y_pred contains label(s) {bad_pred.tolist()} outside the ID classes "
            f"0..{n_classes - 1}; pass the classifier's predicted ID class (e.g. "
            "logits.argmax(1)), the threshold adds the OOD decision"
        )
    return y_true.astype(np.int64), y_pred.astype(np.int64), scores, int(n_classes)


def _confusion_stack(y_true, y_pred, scores, thresholds, n_classes) -> np.ndarray:
    """Confusion matrices (T, K+1, K+1) for every threshold at once, OOD last."""
    k = n_classes
    true_idx = np.where(y_true == OOD_LABEL, k, y_true)
    cell = true_idx * k + y_pred  # (true row, predicted ID class) before thresholding
    order = np.argsort(scores, kind="mergesort")
    onehot = np.zeros((len(scores), (k + 1) * k), dtype=np.int64)
    onehot[np.arange(len(scores)), cell[order]] = 1
    cum = np.vstack(
        [np.zeros((1, onehot.shape[1]), dtype=np.int64), np.cumsum(onehot, axis=0)]
    )
    accepted = cum[
        np.searchsorted(scores[order], thresholds, side="right")
    ]  # score <= threshold: kept as ID
    total = cum[-1]
    accepted = accepted.reshape(len(thresholds), k + 1, k)
    flagged = (total.reshape(k + 1, k) - accepted).sum(
        axis=2
    )  # score > threshold: predicted OOD
    return np.concatenate([accepted, flagged[:, :, None]], axis=2)


def ood_confusion_matrix(
    y_true, y_pred, scores, threshold: float, n_classes: int | None = None
) -> np.ndarray:
    """Three-way confusion matrix: each ID class, plus OOD, at one score threshold.

    A sample is predicted OOD when its score is above ``threshold``; otherwise it keeps
    the classifier's predicted class ``y_pred``.

    Parameters
    ----------
    y_true:
        True labels: ID class ids ``0..K-1``, and :data:`OOD_LABEL` (-1) for OOD
        samples.
    y_pred:
        The classifier's predicted ID class for every sample (OOD samples too).
    scores:
        OOD scores, larger for outliers.
    threshold:
        Flag as OOD when ``score > threshold``.
    n_classes:
        K, the number of ID classes (inferred from the labels if omitted).

    Returns
    -------
    An integer array (K+1, K+1): rows are true labels, columns predictions, in the order
    ID class 0, ..., ID class K-1, OOD. It equals ``sklearn.metrics.confusion_matrix``
    with ``labels=[0, ..., K-1, -1]``.
    """
    y_true, y_pred, scores, k = _check_three_way(y_true, y_pred, scores, n_classes)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    return _confusion_stack(y_true, y_pred, scores, np.array([float(threshold)]), k)[0]


def ood_threshold_sweep(
    y_true, y_pred, scores, thresholds=None, n_classes: int | None = None
):
    """Precision, recall and F1 at many thresholds at once, in the three-way setting.

    For every threshold the samples with ``score > threshold`` are predicted OOD and the
    rest keep the classifier's class (see :func:`ood_confusion_matrix`). All confusion
    matrices come from one sort and one cumulative count, with no loop over thresholds.

    Columns of the returned :class:`pandas.DataFrame`, one row per threshold:

    * ``precision``, ``recall``, ``f1``: macro averages over the **ID classes**, with
      OOD samples and OOD decisions counted (an OOD sample kept as class c is a false
      positive of c; an ID sample flagged OOD is a false negative). These equal
      scikit-learn's ``precision_recall_fscore_support`` with ``labels=range(K)``,
      ``average="macro"`` and ``zero_division=0``, as in the lesson.
    * ``ood_precision``, ``ood_recall``, ``ood_f1``: the same with OOD as the positive
      class.
    * ``id_accepted``: fraction of ID samples kept as ID (the TPR);
      ``ood_accepted``: fraction of OOD samples kept as ID (the FPR).

    ``thresholds`` defaults to every distinct score (plus one below the smallest).
    Without OOD samples, ``ood_recall``, ``ood_f1`` and ``ood_accepted`` are NaN (0/0);
    without ID samples, ``id_accepted`` is NaN.
    """
    y_true, y_pred, scores, k = _check_three_way(y_true, y_pred, scores, n_classes)
    if thresholds is None:
        uniq = np.unique(scores)
        thresholds = np.r_[uniq[0] - 1.0, uniq]
    thresholds = check_scores(thresholds, "thresholds")
    cms = _confusion_stack(y_true, y_pred, scores, thresholds, k).astype(np.float64)
    diag = np.diagonal(cms, axis1=1, axis2=2)  # (T, K+1)
    predicted = cms.sum(axis=1)
    actual = cms.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(predicted > 0, diag / predicted, 0.0)
        rec = np.where(actual > 0, diag / actual, 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    n_id = actual[0, :k].sum()
    n_ood = actual[0, k]
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "precision": prec[:, :k].mean(1),
            "recall": rec[:, :k].mean(1),
            "f1": f1[:, :k].mean(1),
            "ood_precision": prec[:, k],
            # with no OOD sample, OOD recall (and so F1) is 0/0: NaN, not 0
            "ood_recall": rec[:, k] if n_ood else np.nan,
            "ood_f1": f1[:, k] if n_ood else np.nan,
            "id_accepted": cms[:, :k, :k].sum(axis=(1, 2)) / n_id if n_id else np.nan,
            "ood_accepted": cms[:, k, :k].sum(axis=1) / n_ood if n_ood else np.nan,
        }
    )


# ---------------------------------------------------------------------------
# Results table


#: Column names used by :func:`detector_table` for the keys of :func:`ood_metrics`.
METRIC_NAMES = {
    "auroc": "AUROC",
    "fpr_at_95_tpr": "FPR95",
    "aupr_in": "AUPR-In",
    "aupr_out": "AUPR-Out",
}


def detector_table(
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    id_key: str = "id",
    metrics: Sequence[str] = ("auroc", "fpr_at_95_tpr"),
):
    """Evaluate several detectors on one ID set and several OOD sets, as one table.

    Parameters
    ----------
    scores:
        ``{detector: {id_key: id_scores, ood_set_name: ood_scores, ...}}``, e.g.
        ``{"MSP": {"id": s_id, "near": s_near, "far": s_far}}``. Every detector must
        have the ID scores and the same OOD sets.
    metrics:
        Keys of :func:`ood_metrics` to report.

    Returns
    -------
    A :class:`pandas.DataFrame` indexed by detector, with two-level columns
    ``(ood_set, metric)``; metrics are named as in :data:`METRIC_NAMES` (``"AUROC"``,
    ``"FPR95"``, ``"AUPR-In"``, ``"AUPR-Out"``).
    """
    if not scores:
        raise ValueError("scores is empty; pass at least one detector")
    unknown = [m for m in metrics if m not in METRIC_NAMES]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; use {', '.join(METRIC_NAMES)}")
    sets = None
    rows = {}
    for name, per_set in scores.items():
        if id_key not in per_set:
            raise ValueError(
                f"detector {name!r} has no {id_key!r} entry with its ID scores"
            )
        names = [s for s in per_set if s != id_key]
        if not names:
            raise ValueError(f"detector {name!r} has ID scores but no OOD set")
        if sets is None:
            sets = names
        elif names != sets:
            raise ValueError(
                f"detector {name!r} has OOD sets {names}, but the first detector has "
                f"{sets}"
            )
        row = {}
        for ood_set in sets:  # a loop over OOD sets, not samples
            result = ood_metrics(per_set[id_key], per_set[ood_set])
            row.update({(ood_set, METRIC_NAMES[m]): result[m] for m in metrics})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(
        table.columns, names=["OOD set", "metric"]
    )
    return table
