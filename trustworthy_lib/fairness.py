"""Group-fairness metrics, threshold sweeps and AIF360 glue for binary classifiers.

Conventions, stated once and held everywhere in the package (the named functions of
:mod:`trustworthy_lib.metrics` follow them too, as thin wrappers over
:func:`group_metrics`):

* Labels and predictions are 0/1 and **1 is the favourable outcome** (the one a person
  would want, or that brings extra resources: a loan, a place in a care programme).
* ``protected`` holds one group label per person. ``privileged`` (default ``1``) names
  the privileged group; the other value is the unprivileged group. **Exactly two group
  values** must be present, and a missing group label (None, NaN) is refused.
* **Differences are unprivileged minus privileged; ratios are unprivileged over
  privileged**, as in AIF360's ``ClassificationMetric`` (Bellamy et al. 2018). A fair
  classifier has differences near 0 and disparate impact near 1. The one exception is
  ``equalized_odds_difference``, the larger absolute gap, which is never negative.
* **Undefined metrics.** A rate whose denominator is zero (a group with no positive
  labels has TPR = 0/0) makes every metric built on it undefined. ``undefined="raise"``
  (the default) raises ``ValueError`` naming each such metric and why;
  ``undefined="nan"`` returns NaN for it instead.
* A score is turned into a decision with ``score > threshold``, as in the AIF360 MEPS
  tutorial.

Every metric is a function of eight counts: (group) x (true label) x (predicted label).
:func:`group_metrics`, :func:`group_metrics_by_threshold` and
:func:`bootstrap_group_metrics` build those counts in one vectorised pass (for every
threshold, or every bootstrap replicate, at once) and share one formula,
``_metrics_from_counts``.

AIF360 and fairlearn are imported lazily inside the functions that need them, so
importing this module is cheap and changes no global state.
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from trustworthy_lib._bootstrap import percentile_interval, resample_indices
from trustworthy_lib._validation import (
    InputTypeError,
    NotFittedError,
    as_1d,
    check_binary,
    check_confidence,
    check_finite,
    check_group_labels,
    check_positive_int,
    check_same_length,
)

__all__ = [
    "ALL_METRICS",
    "METRIC_NAMES",
    "aif360_groups",
    "bootstrap_group_metrics",
    "chouldechova_fpr",
    "from_binary_label_dataset",
    "generalized_error_rates",
    "group_metrics",
    "group_metrics_by_threshold",
    "load_meps_panel19",
    "positive_probability",
    "quiet_import_warnings",
    "threshold_optimizer_rules",
    "to_binary_label_dataset",
]

METRIC_NAMES = (
    "disparate_impact",
    "statistical_parity_difference",
    "equal_opportunity_difference",
    "average_odds_difference",
    "theil_index",
    "balanced_accuracy",
)
"""The six metrics AIF360's tutorials report; the default of :func:`group_metrics`."""

ALL_METRICS = METRIC_NAMES + (
    "false_positive_rate_difference",
    "equalized_odds_difference",
    "predictive_parity_difference",
)
"""Every metric :func:`group_metrics` can compute."""

_UNDEFINED = ("raise", "nan")

# ---------------------------------------------------------------------------
# Groups


def _group_codes(protected, privileged) -> np.ndarray:
    """1 for the privileged group and 0 for the unprivileged one, after the checks."""
    arr = check_group_labels(protected, "protected")
    values = pd.unique(arr)
    if len(values) == 1:
        raise ValueError(
            f"protected has a single group (every value is {values[0]!r}); "
            "group-fairness metrics compare a privileged and an unprivileged group, so "
            "both must be present. Check the column, or use a larger split"
        )
    if len(values) > 2:
        raise ValueError(
            f"protected has {len(values)} groups ({sorted(map(str, values))[:6]}); "
            "these metrics compare exactly two. Binarise it first, e.g. "
            "(race == 'White').astype(int)"
        )
    priv = arr == privileged
    if not priv.any():
        raise ValueError(
            f"the privileged value {privileged!r} does not occur in protected (its "
            f"values are {sorted(map(str, values))}); pass privileged= one of them"
        )
    return priv.astype(np.int64)


def _check_undefined(undefined) -> str:
    if undefined not in _UNDEFINED:
        raise ValueError(f"undefined must be 'raise' or 'nan', got {undefined!r}")
    return undefined


def _check_metric_names(metrics) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = [m for m in names if m not in ALL_METRICS]
    if unknown or not names:
        raise ValueError(
            f"unknown metric(s) {unknown}; choose from {list(ALL_METRICS)}"
        )
    return names


# ---------------------------------------------------------------------------
# The one formula


def _div(a, b):
    a, b = np.broadcast_arrays(
        np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    )
    out = np.full(a.shape, np.nan)
    np.divide(a, b, out=out, where=b > 0)
    return out


def _confusion_counts(group: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray):
    """Counts of shape (2, 2, 2), indexed [group (0=unpriv, 1=priv), y_true, y_pred]."""
    cell = 4 * group + 2 * y_true + y_pred
    return np.bincount(cell, minlength=8).reshape(2, 2, 2).astype(np.float64)


_GROUP_NAME = {0: "unprivileged group", 1: "privileged group"}

# which metrics each zero denominator leaves undefined
_NEEDS_POSITIVES = (
    "equal_opportunity_difference",
    "average_odds_difference",
    "equalized_odds_difference",
)
_NEEDS_NEGATIVES = (
    "false_positive_rate_difference",
    "average_odds_difference",
    "equalized_odds_difference",
)


def _undefined_reasons(C: np.ndarray, names=ALL_METRICS) -> list[str]:
    """Why some of ``names`` cannot be computed from one (2, 2, 2) count array."""
    reasons = []

    def add(hit, text):
        hit = [m for m in hit if m in names]
        if hit:
            verb = "is" if len(hit) == 1 else "are"
            reasons.append(f"{text}, so {' and '.join(hit)} {verb} undefined")

    for g in (0, 1):
        if C[g, 1].sum() == 0:
            add(
                _NEEDS_POSITIVES,
                f"the {_GROUP_NAME[g]} has no positive labels (y_true == 1), so its "
                "true-positive rate TP/P is 0/0",
            )
        if C[g, 0].sum() == 0:
            add(
                _NEEDS_NEGATIVES,
                f"the {_GROUP_NAME[g]} has no negative labels (y_true == 0), so its "
                "false-positive rate FP/N is 0/0",
            )
        if C[g, :, 1].sum() == 0:
            hit = ["predictive_parity_difference"] + (["disparate_impact"] if g else [])
            add(
                hit,
                f"the {_GROUP_NAME[g]} has no predicted positives (y_pred == 1), so "
                "its precision TP/(TP+FP) is 0/0"
                + (" and the selection-rate ratio divides by zero" if g else ""),
            )
    if C[:, 1].sum() == 0 or C[:, 0].sum() == 0:
        add(["balanced_accuracy"], "nobody has one of the two labels")
    if C[:, 1, 0].sum() == C.sum():
        add(["theil_index"], "every prediction is a false negative (mean benefit 0)")
    return reasons


def _metrics_from_counts(C: np.ndarray) -> dict[str, np.ndarray]:
    """All metrics from counts C of shape (..., 2, 2, 2); undefined entries are NaN."""
    C = np.asarray(C, dtype=np.float64)
    n_g = C.sum(axis=(-1, -2))  # (..., 2)
    pos_g = C[..., 1, :].sum(axis=-1)  # P per group
    neg_g = C[..., 0, :].sum(axis=-1)  # N per group
    tp_g, fp_g = C[..., 1, 1], C[..., 0, 1]
    tn_g, fn_g = C[..., 0, 0], C[..., 1, 0]
    sel = _div(tp_g + fp_g, n_g)
    tpr = _div(tp_g, pos_g)
    fpr = _div(fp_g, neg_g)
    ppv = _div(tp_g, tp_g + fp_g)
    tpr_gap = tpr[..., 0] - tpr[..., 1]
    fpr_gap = fpr[..., 0] - fpr[..., 1]

    tp, fp, tn, fn = tp_g.sum(-1), fp_g.sum(-1), tn_g.sum(-1), fn_g.sum(-1)
    n = tp + fp + tn + fn
    balanced_accuracy = 0.5 * (_div(tp, tp + fn) + _div(tn, tn + fp))

    # Theil index with b_i = 1 + yhat_i - y_i: b = 0 (FN), 1 (correct) or 2 (FP).
    mu = _div(tp + tn + 2.0 * fp, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = _div(1.0, mu)
        theil = _div(
            (tp + tn) * inv * np.log(inv) + fp * 2.0 * inv * np.log(2.0 * inv), n
        )

    return {
        "disparate_impact": _div(sel[..., 0], sel[..., 1]),
        "statistical_parity_difference": sel[..., 0] - sel[..., 1],
        "equal_opportunity_difference": tpr_gap,
        "average_odds_difference": 0.5 * (fpr_gap + tpr_gap),
        "theil_index": theil,
        "balanced_accuracy": balanced_accuracy,
        "false_positive_rate_difference": fpr_gap,
        # np.maximum (not max or np.fmax) so that an undefined gap stays NaN
        "equalized_odds_difference": np.maximum(np.abs(tpr_gap), np.abs(fpr_gap)),
        "predictive_parity_difference": ppv[..., 0] - ppv[..., 1],
        "selection_rate_unprivileged": sel[..., 0],
        "selection_rate_privileged": sel[..., 1],
    }


def _prepare(y_true, y_pred, protected, privileged):
    """Checked 0/1 arrays and group codes; ``y_true=None`` means "labels unused"."""
    y_pred = check_binary(y_pred, "y_pred")
    y_true = np.zeros_like(y_pred) if y_true is None else check_binary(y_true, "y_true")
    protected = check_group_labels(protected, "protected")
    check_same_length(y_true=y_true, y_pred=y_pred, protected=protected)
    return y_true, y_pred, _group_codes(protected, privileged)


# ---------------------------------------------------------------------------
# Public metrics


def group_metrics(
    y_true,
    y_pred,
    protected,
    privileged=1,
    undefined: str = "raise",
    metrics=METRIC_NAMES,
) -> dict[str, float]:
    r"""Group-fairness and accuracy metrics of 0/1 predictions, as AIF360 defines them.

    With selection rate :math:`SR_g = P(\hat y = 1 \mid g)`, true- and false-positive
    rates :math:`TPR_g, FPR_g`, precision :math:`PPV_g`, and *u*/*p* the
    unprivileged/privileged groups:

    * ``disparate_impact`` :math:`= SR_u / SR_p` (1 is parity; the "80 % rule" flags <
      0.8);
    * ``statistical_parity_difference`` :math:`= SR_u - SR_p` (demographic parity);
    * ``equal_opportunity_difference`` :math:`= TPR_u - TPR_p` (Hardt et al. 2016);
    * ``average_odds_difference`` :math:`= \tfrac12[(FPR_u - FPR_p) + (TPR_u - TPR_p)]`;
    * ``theil_index``: the generalised entropy index with :math:`\alpha = 1` over
      everyone, :math:`\frac1n\sum_i \frac{b_i}{\mu}\ln\frac{b_i}{\mu}` with
      :math:`b_i = \hat y_i - y_i + 1` (Speicher et al. 2018);
    * ``balanced_accuracy`` :math:`= \tfrac12(TPR + TNR)` over everyone;
    * ``false_positive_rate_difference`` :math:`= FPR_u - FPR_p`;
    * ``equalized_odds_difference`` :math:`= \max(|TPR_u - TPR_p|, |FPR_u - FPR_p|)`,
      fairlearn's definition for two groups;
    * ``predictive_parity_difference`` :math:`= PPV_u - PPV_p` (Chouldechova 2017).

    The first six match ``aif360.metrics.ClassificationMetric`` and the last two
    fairlearn to floating-point precision (the tests check both).

    Parameters
    ----------
    y_true, y_pred:
        0/1 arrays, 1 = favourable. ``y_true`` may be ``None`` when only
        ``disparate_impact`` and ``statistical_parity_difference`` are asked for.
    protected:
        Group membership, exactly two distinct values and none missing.
    privileged:
        The value of ``protected`` that marks the privileged group (default 1).
    undefined:
        ``"raise"`` (default) raises :class:`ValueError` naming each requested metric
        that cannot be computed and why; ``"nan"`` returns NaN for those metrics
        instead.
    metrics:
        The names to compute (default :data:`METRIC_NAMES`; see :data:`ALL_METRICS`).

    Returns
    -------
    dict mapping each requested name to a float.
    """
    _check_undefined(undefined)
    names = _check_metric_names(metrics)
    needs_labels = set(names) - {"disparate_impact", "statistical_parity_difference"}
    if y_true is None and needs_labels:
        raise ValueError(
            f"{sorted(needs_labels)} need the true labels; pass y_true (it may be None "
            "only for disparate_impact and statistical_parity_difference)"
        )
    y_true, y_pred, group = _prepare(y_true, y_pred, protected, privileged)
    C = _confusion_counts(group, y_true, y_pred)
    if undefined == "raise":
        reasons = _undefined_reasons(C, names)
        if reasons:
            raise ValueError(
                "some group metrics are undefined on these data: "
                + "; ".join(reasons)
                + ". Use a larger or stratified sample, check the labels and "
                "predictions, or pass undefined='nan' to get NaN for those metrics."
            )
    out = _metrics_from_counts(C)
    return {k: float(out[k]) for k in names}


def group_metrics_by_threshold(
    scores, y_true, protected, thresholds, privileged=1
) -> pd.DataFrame:
    """Every metric of :func:`group_metrics` at many decision thresholds, in one pass.

    The decision at threshold ``t`` is ``scores > t``. For each (group, true label) cell
    the scores are sorted once, and ``np.searchsorted`` counts how many exceed every
    threshold at once, so the cost is O((n + T) log n) with no Python loop over
    thresholds.

    Returns a DataFrame with one row per threshold: ``threshold``, every metric of
    :data:`ALL_METRICS`, and
    ``selection_rate_unprivileged``/``selection_rate_privileged``. A metric that is
    undefined at a threshold (disparate impact when the privileged group selects nobody)
    is NaN there. Label problems that hold at every threshold (a group with no positive
    or no negative labels) raise :class:`ValueError`, as do NaN scores.
    """
    scores = check_finite(as_1d(scores, "scores"), "scores")
    y_true = check_binary(y_true, "y_true")
    protected = as_1d(protected, "protected")
    check_same_length(scores=scores, y_true=y_true, protected=protected)
    thresholds = check_finite(as_1d(thresholds, "thresholds"), "thresholds")
    group = _group_codes(protected, privileged)

    labels_only = _confusion_counts(group, y_true, y_true)  # no predictions involved
    label_problems = [
        r for r in _undefined_reasons(labels_only, _NEEDS_POSITIVES + _NEEDS_NEGATIVES)
    ]
    if label_problems:
        raise ValueError("cannot sweep thresholds: " + "; ".join(label_problems) + ".")

    C = np.empty((len(thresholds), 2, 2, 2))
    for g in (0, 1):  # four cells, not a loop over people or thresholds
        for y in (0, 1):
            s = np.sort(scores[(group == g) & (y_true == y)])
            above = len(s) - np.searchsorted(s, thresholds, side="right")
            C[:, g, y, 1] = above
            C[:, g, y, 0] = len(s) - above
    out = _metrics_from_counts(C)
    return pd.DataFrame({"threshold": thresholds, **out})


def bootstrap_group_metrics(
    y_true,
    y_pred,
    protected,
    privileged=1,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    return_replicates: bool = False,
    undefined: str = "raise",
):
    """Percentile bootstrap confidence intervals for :func:`group_metrics`, vectorised.

    People are resampled with replacement (Efron and Tibshirani 1993). Replicate ``b``
    uses the rows ``idx[b]`` of
    ``idx = np.random.default_rng(seed).integers(0, n, (n_boot, n))``. All replicates
    are computed at once from their confusion counts (one ``np.bincount``), with no
    Python loop over replicates.

    ``y_pred`` may be one array or a mapping ``{model name: predictions}``. With a
    mapping, every model is scored on the *same* resamples, so the replicates of two
    models can be subtracted to get a paired interval for their difference.

    ``undefined`` applies to the estimate on the full sample, as in
    :func:`group_metrics`: by default a metric undefined on the full sample raises; with
    ``"nan"`` its estimate is NaN. Replicates where a metric is undefined are always
    left out of its interval and counted in the ``undefined`` column.

    Returns
    -------
    A DataFrame with columns ``model``, ``metric``, ``estimate`` (on all rows),
    ``ci_low``, ``ci_high`` and ``undefined`` (the number of replicates where the metric
    was undefined). With ``return_replicates=True``, also a dict
    ``{model: array (n_boot, 6)}`` whose columns follow :data:`METRIC_NAMES`.
    """
    n_boot = check_positive_int(n_boot, "n_boot")
    confidence = check_confidence(confidence)
    _check_undefined(undefined)
    preds = dict(y_pred) if isinstance(y_pred, Mapping) else {"model": y_pred}
    if not preds:
        raise ValueError(
            "y_pred is an empty mapping; pass at least one model's predictions"
        )
    y_true = check_binary(y_true, "y_true")
    protected = as_1d(protected, "protected")
    n = check_same_length(y_true=y_true, protected=protected)
    group = _group_codes(protected, privileged)
    preds = {name: check_binary(p, f"y_pred[{name!r}]") for name, p in preds.items()}
    for name, p in preds.items():
        if len(p) != n:
            raise ValueError(
                f"mismatched lengths: y_pred[{name!r}] has {len(p)} entries but y_true "
                f"has {n}; each needs one entry per person"
            )
    estimates = {
        name: group_metrics(y_true, p, group, 1, undefined) for name, p in preds.items()
    }

    idx = resample_indices(n, n_boot, seed)
    offsets = 8 * np.arange(n_boot)[:, None]
    rows, replicates = [], {}
    for name, p in preds.items():  # a loop over models, not replicates
        cell = 4 * group + 2 * y_true + p
        counts = np.bincount(
            (offsets + cell[idx]).ravel(), minlength=8 * n_boot
        ).reshape(n_boot, 2, 2, 2)
        m = _metrics_from_counts(counts)
        reps = np.column_stack([m[k] for k in METRIC_NAMES])
        replicates[name] = reps
        lo, hi, bad = percentile_interval(reps, confidence)
        for j, k in enumerate(METRIC_NAMES):
            rows.append((name, k, estimates[name][k], lo[j], hi[j], int(bad[j])))
    columns = ["model", "metric", "estimate", "ci_low", "ci_high", "undefined"]
    table = pd.DataFrame(rows, columns=columns)
    return (table, replicates) if return_replicates else table


def chouldechova_fpr(base_rate, ppv, fnr):
    r"""The false-positive rate forced by a group's base rate, precision and miss rate.

    Chouldechova (2017, eq. 2.6) shows that for any classifier, within a group with base
    rate :math:`p`,

    .. math:: FPR = \frac{p}{1-p}\,\frac{1-PPV}{PPV}\,(1 - FNR).

    So if two groups have equal PPV (predictive parity: equal precision, which is not
    the same as calibration within groups) and equal FNR but different :math:`p`, their
    FPRs *must* differ. Inputs broadcast; they must satisfy :math:`0 < p < 1`,
    :math:`0 < PPV \le 1` and :math:`0 \le FNR \le 1`. Returns a float for scalar
    inputs, a Series (with the index of the first Series input) when any input is a
    pandas Series, and an array otherwise.
    """
    p, q, f = (np.asarray(v, dtype=np.float64) for v in (base_rate, ppv, fnr))
    for name, v, ok in (
        ("base_rate", p, (p > 0) & (p < 1)),
        ("ppv", q, (q > 0) & (q <= 1)),
        ("fnr", f, (f >= 0) & (f <= 1)),
    ):
        if not np.all(ok):
            raise ValueError(
                f"{name} out of range (base_rate in (0, 1), ppv in (0, 1], fnr in [0, "
                f"1]): {v}"
            )
    out = p / (1 - p) * (1 - q) / q * (1 - f)
    if out.ndim == 0:
        return float(out)
    index = next(
        (v.index for v in (base_rate, ppv, fnr) if isinstance(v, pd.Series)), None
    )
    return (
        pd.Series(out, index=index, name="fpr")
        if index is not None and len(index) == len(out)
        else out
    )


def generalized_error_rates(scores, y_true, protected) -> pd.DataFrame:
    r"""Per-group base rate and generalised error rates of a score in [0, 1].

    Kleinberg, Mullainathan and Raghavan (2016) define, within a group,
    the generalised false-positive rate :math:`\mathrm{gFPR} = E[s \mid y = 0]` and the
    generalised false-negative rate :math:`\mathrm{gFNR} = E[1 - s \mid y = 1]`.
    If the score is calibrated within the group, :math:`E[s] = p` (the base rate), so

    .. math:: (1-p)\,\mathrm{gFPR} = p\,\mathrm{gFNR}.

    Each group lies on a line through the origin with slope :math:`p/(1-p)` in the
    (gFNR, gFPR) plane: with different base rates, both error rates can be equal across
    groups only at the origin (perfect prediction). Columns: ``n``, ``base_rate``,
    ``mean_score``, ``gfpr``, ``gfnr``.
    """
    scores = check_finite(as_1d(scores, "scores"), "scores")
    if (scores < 0).any() or (scores > 1).any():
        raise ValueError(
            "scores must be probabilities in [0, 1] for generalised error rates"
        )
    y_true = check_binary(y_true, "y_true")
    protected = check_group_labels(protected, "protected")
    check_same_length(scores=scores, y_true=y_true, protected=protected)
    values, inv = np.unique(protected, return_inverse=True)
    k = len(values)
    n = np.bincount(inv, minlength=k).astype(np.float64)
    pos = np.bincount(inv, weights=y_true, minlength=k)
    s_all = np.bincount(inv, weights=scores, minlength=k)
    s_pos = np.bincount(inv, weights=scores * y_true, minlength=k)
    return pd.DataFrame(
        {
            "n": n.astype(np.int64),
            "base_rate": pos / n,
            "mean_score": s_all / n,
            "gfpr": _div(s_all - s_pos, n - pos),
            "gfnr": _div(pos - s_pos, pos),
        },
        index=pd.Index(values, name="group"),
    )


# ---------------------------------------------------------------------------
# fairlearn's ThresholdOptimizer, made readable


def threshold_optimizer_rules(optimizer) -> pd.DataFrame:
    """The per-group randomised threshold rules of a fitted ``ThresholdOptimizer``.

    The optimizer is fairlearn's.

    For a person of group *g* with score *s*, fairlearn predicts 1 with probability
    ``p0 * [s op0 t0] + p1 * [s op1 t1]`` (Hardt, Price and Srebro 2016). Returns one
    row per group with ``p0``, ``operation0``, ``p1``, ``operation1`` and, for the usual
    case where both operations are ``>``, the two thresholds and the probability of a
    positive decision for a score between them (``p_between``).
    """
    rules = _fitted_rules(optimizer)
    rows = []
    for g, r in rules.items():
        row = {
            "group": g,
            "p0": float(r.p0),
            "operation0": repr(r.operation0),
            "p1": float(r.p1),
            "operation1": repr(r.operation1),
        }
        if r.operation0.operator == ">" and r.operation1.operator == ">":
            (t_lo, p_lo), (t_hi, p_hi) = sorted(
                [(r.operation0.threshold, r.p0), (r.operation1.threshold, r.p1)],
                key=lambda tp: tp[0],
            )
            row.update(
                threshold_low=float(t_lo),
                threshold_high=float(t_hi),
                p_between=float(p_lo),
            )
        rows.append(row)
    return pd.DataFrame(rows).set_index("group")


def _group_key(value) -> str:
    """One spelling per group value: 1, 1.0, np.int64(1) and "1" all become "1"."""
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _fitted_rules(optimizer) -> dict:
    try:
        return optimizer.interpolated_thresholder_.interpolation_dict
    except AttributeError as err:
        raise NotFittedError(
            "optimizer is not a fitted fairlearn ThresholdOptimizer; call .fit first"
        ) from err


def positive_probability(optimizer, scores, protected) -> np.ndarray:
    """Probability that a fitted ``ThresholdOptimizer`` predicts 1 for each person.

    ``scores`` are the base estimator's scores (e.g. ``predict_proba(X)[:, 1]``) and
    ``protected`` the group of each person. Group values are compared after one
    normalisation (``1``, ``1.0`` and ``"1"`` are the same group), and a person whose
    group has no fitted rule raises instead of silently getting probability 0. A value
    strictly between 0 and 1 means the decision for that person is a coin flip.
    Vectorised over people (the loop is over groups).
    """
    scores = check_finite(as_1d(scores, "scores"), "scores")
    protected = check_group_labels(protected, "protected")
    check_same_length(scores=scores, protected=protected)
    rules = {_group_key(g): r for g, r in _fitted_rules(optimizer).items()}
    keys = np.array([_group_key(v) for v in protected], dtype=object)
    unknown = sorted(set(keys) - set(rules))
    if unknown:
        raise ValueError(
            f"group value(s) {unknown} were not seen when the optimizer was fitted "
            f"(it knows {sorted(rules)}); pass the same group coding as in fit"
        )
    prob = np.full(len(scores), np.nan)
    for g, r in rules.items():
        m = keys == g
        p = r.p0 * r.operation0(scores[m]) + r.p1 * r.operation1(scores[m])
        if "p_ignore" in r:
            p = r.p_ignore * r.prediction_constant + (1 - r.p_ignore) * p
        prob[m] = p
    if np.isnan(
        prob
    ).any():  # cannot happen after the check above; never return a guess
        raise RuntimeError("some people matched no group rule; please report this bug")
    return prob


# ---------------------------------------------------------------------------
# AIF360 glue


@contextmanager
def quiet_import_warnings():
    """Silence the notices some packages print while importing optional extras.

    AIF360 logs "No module named 'tensorflow': AdversarialDebiasing will be unavailable"
    and similar lines through the root logger when it is imported. Inside this block,
    root-logger records below ERROR and Python warnings are dropped; the logger's level
    and handlers are restored on exit (a temporary ``NullHandler`` also stops
    ``logging.warning`` from installing a default stderr handler behind your back)::

        with quiet_import_warnings():
            from aif360.metrics import ClassificationMetric
    """
    root = logging.getLogger()
    level = root.level
    null = logging.NullHandler()
    root.addHandler(null)
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeHandler(null)
        root.setLevel(level)


def aif360_groups(
    protected: str, privileged=1, unprivileged=0
) -> dict[str, list[dict]]:
    """AIF360's group arguments for a binary protected column, to unpack with ``**``.

    >>> aif360_groups("not_blhisp")  # doctest: +NORMALIZE_WHITESPACE
    {'unprivileged_groups': [{'not_blhisp': 0}],
     'privileged_groups': [{'not_blhisp': 1}]}
    """
    if privileged == unprivileged:
        raise ValueError(
            f"privileged and unprivileged must differ; both are {privileged!r}"
        )
    return {
        "unprivileged_groups": [{protected: unprivileged}],
        "privileged_groups": [{protected: privileged}],
    }


def to_binary_label_dataset(
    df: pd.DataFrame,
    label: str,
    protected: str,
    *,
    features=None,
    privileged=1,
    favorable_label=1,
    unfavorable_label=0,
    instance_weights=None,
):
    """Wrap a numeric pandas DataFrame as an AIF360 ``BinaryLabelDataset``.

    Parameters
    ----------
    df:
        One row per person; every used column numeric, with no missing values.
    label:
        The 0/1 label column (``favorable_label`` is the favourable value).
    protected:
        The protected-attribute column; ``privileged`` is its privileged value and every
        other value is unprivileged. It stays among the features, as AIF360 expects.
    features:
        Feature columns to keep (default: every column except ``label``). ``protected``
        is added if missing.
    instance_weights:
        ``None`` (all 1), a column name of ``df``, or an array with one weight per row.
    """
    from aif360.datasets import BinaryLabelDataset

    if not isinstance(df, pd.DataFrame):
        raise InputTypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise ValueError("df is empty; pass at least one row")
    features = (
        [c for c in df.columns if c != label] if features is None else list(features)
    )
    if protected not in features:
        features.append(protected)
    weight_col = "__instance_weight__"
    needed = (
        features
        + [label]
        + ([instance_weights] if isinstance(instance_weights, str) else [])
    )
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(
            f"column(s) {missing} are not in df; its columns are {list(df.columns)}"
        )
    out = df[features + [label]].copy()
    non_numeric = [c for c in out.columns if not pd.api.types.is_numeric_dtype(out[c])]
    if non_numeric:
        raise ValueError(
            f"column(s) {non_numeric} are not numeric; AIF360 needs numbers. Encode "
            "them first, e.g. with pd.get_dummies(df, columns=[...], dtype=float)"
        )
    nan_cols = out.columns[out.isna().any()].tolist()
    if nan_cols:
        raise ValueError(
            f"column(s) {nan_cols} contain missing values; drop or impute them first"
        )
    bad = sorted(set(out[label].unique()) - {favorable_label, unfavorable_label})
    if bad:
        raise ValueError(
            f"label column {label!r} holds value(s) {bad[:5]} besides "
            f"favorable_label={favorable_label!r} and "
            f"unfavorable_label={unfavorable_label!r}"
        )
    if instance_weights is not None:
        if isinstance(instance_weights, str):
            w = df[instance_weights]
        else:
            w = as_1d(instance_weights, "instance_weights")
        w = check_finite(w, "instance_weights")
        check_same_length(df=out[label].to_numpy(), instance_weights=w)
        out[weight_col] = w
    _group_codes(
        out[protected].to_numpy(), privileged
    )  # two groups, privileged present
    unpriv = [v for v in pd.unique(out[protected]) if v != privileged]
    return BinaryLabelDataset(
        favorable_label=favorable_label,
        unfavorable_label=unfavorable_label,
        df=out,
        label_names=[label],
        protected_attribute_names=[protected],
        instance_weights_name=weight_col if instance_weights is not None else None,
        privileged_protected_attributes=[np.array([privileged], dtype=np.float64)],
        unprivileged_protected_attributes=[np.asarray(unpriv, dtype=np.float64)],
    )


def from_binary_label_dataset(
    dataset, weights_column: str | None = "instance_weights"
) -> pd.DataFrame:
    """Turn an AIF360 ``BinaryLabelDataset`` back into a DataFrame.

    Columns are the dataset's features (protected attributes included) and its label,
    plus ``weights_column`` holding the instance weights (``None`` leaves them out). The
    index is the dataset's instance names, so rows line up with the DataFrame the
    dataset came from when its index was a plain ``RangeIndex`` turned to strings by
    AIF360.
    """
    if not hasattr(dataset, "convert_to_dataframe") or not hasattr(
        dataset, "instance_weights"
    ):
        raise InputTypeError(
            "dataset must be an AIF360 BinaryLabelDataset, got "
            f"{type(dataset).__name__}"
        )
    df, _ = dataset.convert_to_dataframe()
    if weights_column is not None:
        if weights_column in df.columns:
            raise ValueError(
                f"weights_column {weights_column!r} clashes with a feature name; "
                "choose another"
            )
        df[weights_column] = dataset.instance_weights
    return df


# ---------------------------------------------------------------------------
# The lesson's MEPS panel 19 file


def _aif360_meps_dir() -> Path:
    """The folder where AIF360's ``MEPSDataset19`` looks for ``h181.csv``."""
    import aif360.datasets.meps_dataset_panel19_fy2015 as mod

    return (
        Path(os.path.abspath(mod.__file__)).parent / ".." / "data" / "raw" / "meps"
    ).resolve()


def load_meps_panel19(path: str | Path | None = None):
    """Load the lesson's MEPS panel 19 (``h181.csv``) as AIF360's ``MEPSDataset19``.

    Panel 19 is the 2015 panel.

    The file is not shipped with the workbook: AHRQ's data-use agreement asks each user
    to download it. With ``path=None`` it is looked for where AIF360 looks
    (``aif360/data/raw/meps/h181.csv``) and then in the workbook's data folder; a
    ``path`` reads that file. Either way the result is a ``MEPSDataset19`` built with
    AIF360's own defaults and preprocessing (label ``UTILIZATION`` >= 10 visits,
    ``RACE`` = 1 for non-Hispanic White, weights ``PERWT15F``).

    Raises
    ------
    FileNotFoundError
        With instructions for getting the file, when it is not found.
    """
    from trustworthy_lib.data import data_dir

    aif_dir = _aif360_meps_dir()
    candidates = (
        [Path(path)]
        if path is not None
        else [aif_dir / "h181.csv", data_dir() / "h181.csv"]
    )
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise FileNotFoundError(
            "MEPS panel 19 (h181.csv) was not found; looked in "
            + ", ".join(str(c) for c in candidates)
            + ". The workbook does not ship it, because AHRQ asks every user to accept "
            "its data-use terms (https://meps.ahrq.gov/data_stats/data_use.jsp). On a "
            "machine with internet, either (1) call "
            "aif360.sklearn.datasets.fetch_meps(19, accept_terms=True), which "
            "downloads and caches h181ssp.zip and returns the scikit-learn style "
            "(X, y); or (2) follow " + str(aif_dir / "README.md") + ": download "
            "https://meps.ahrq.gov/mepsweb/data_files/pufs/h181ssp.zip, convert it to "
            "CSV (`Rscript generate_data.R` in that folder), and put h181.csv in "
            + str(aif_dir)
            + " or pass its path to load_meps_panel19(path). The chapters use the "
            "shipped MEPS extract, trustworthy_lib.data.load_meps(), instead."
        )
    with quiet_import_warnings():
        from aif360.datasets import MEPSDataset19, StandardDataset

    if found.resolve() == (aif_dir / "h181.csv").resolve():
        return MEPSDataset19()
    # Elsewhere: the same constructor arguments, with the DataFrame read from `found`.
    params = inspect.signature(MEPSDataset19.__init__).parameters
    kwargs = {k: copy.deepcopy(p.default) for k, p in params.items() if k != "self"}
    frame = pd.read_csv(found, sep=",", na_values=kwargs["na_values"])
    dataset = MEPSDataset19.__new__(MEPSDataset19)
    StandardDataset.__init__(dataset, df=frame, **kwargs)
    return dataset


# ---------------------------------------------------------------------------
# Paired comparison of two models on the same bootstrap resamples


def paired_bootstrap_difference(
    boot: pd.DataFrame,
    replicates: Mapping[str, np.ndarray],
    model: str,
    reference: str,
    metrics=None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    r"""``metric(model) - metric(reference)`` with a *paired* percentile bootstrap CI.

    Takes the two outputs of ``bootstrap_group_metrics(..., return_replicates=True)``,
    where every model was scored on the same resampled people. Replicate ``b`` of the
    difference is :math:`m_b(\text{model}) - m_b(\text{reference})`; the interval is the
    :math:`(\alpha/2, 1-\alpha/2)` quantile pair of those differences, with
    :math:`\alpha = 1 - \text{confidence}`, leaving out replicates where either metric
    is undefined. The noise the two models share (which people were drawn) cancels in
    each replicate, so a paired interval is narrower than the two separate intervals
    suggest, and can exclude 0 while they overlap (Efron and Tibshirani 1993).

    Returns a DataFrame indexed by metric with columns ``difference`` (on all rows),
    ``ci_low``, ``ci_high`` and ``undefined`` (replicates left out).
    """
    if not isinstance(boot, pd.DataFrame) or not {"model", "metric", "estimate"} <= set(
        boot.columns
    ):
        raise ValueError(
            "boot must be the DataFrame from bootstrap_group_metrics(..., "
            "return_replicates=True), with columns model, metric and estimate"
        )
    for name in (model, reference):
        if name not in replicates:
            raise ValueError(
                f"no replicates for model {name!r}; the models are "
                f"{sorted(replicates)}. Pass bootstrap_group_metrics a mapping "
                "{name: predictions} that names both"
            )
    confidence = check_confidence(confidence)
    metrics = (
        list(METRIC_NAMES)
        if metrics is None
        else [metrics]
        if isinstance(metrics, str)
        else list(metrics)
    )
    unknown = [m for m in metrics if m not in METRIC_NAMES]
    if unknown:
        raise ValueError(
            f"unknown metric(s) {unknown}; choose from {list(METRIC_NAMES)}"
        )
    a, b = np.asarray(replicates[model]), np.asarray(replicates[reference])
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != len(METRIC_NAMES):
        raise ValueError(
            f"replicates of {model!r} and {reference!r} have shapes {a.shape} and "
            f"{b.shape}; both must be (n_boot, {len(METRIC_NAMES)}) from one "
            "bootstrap_group_metrics call"
        )
    estimate = boot.set_index(["model", "metric"])["estimate"]
    rows = {}
    for m in metrics:
        j = METRIC_NAMES.index(m)
        low, high, undefined = percentile_interval(a[:, j] - b[:, j], confidence)
        rows[m] = {
            "difference": float(estimate[(model, m)] - estimate[(reference, m)]),
            "ci_low": low,
            "ci_high": high,
            "undefined": undefined,
        }
    out = pd.DataFrame(rows).T
    out["undefined"] = out["undefined"].astype(int)
    out.index.name = "metric"
    return out
