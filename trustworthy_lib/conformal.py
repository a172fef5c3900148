"""Split conformal prediction: sets and intervals with a finite-sample guarantee.

**The convention, stated once:** a *conformity score* is LARGER when a label fits the
input WORSE. A calibration set of ``n`` scores gives the threshold
:func:`conformal_quantile` (the ``ceil((n + 1)(1 - alpha))``-th smallest score), and a
prediction set or interval holds every label whose score is at or below it. If the
calibration and test points are exchangeable, a new point is covered with probability
at least ``1 - alpha`` (and, for scores without ties, at most
``1 - alpha + 1 / (n + 1)``) [Vovk et al. 2005; Angelopoulos & Bates 2021].

* :class:`SplitConformalClassifier`: prediction sets from class probabilities with the
  LAC, APS or RAPS score, marginal or group-conditional (Mondrian);
* :class:`SplitConformalRegressor`: intervals from point predictions (absolute
  residual) or from lower/upper quantile predictions (CQR, Romano et al. 2019);
* evaluation: :func:`coverage`, :func:`mean_set_size`, :func:`mean_width`,
  :func:`coverage_by_group`, and :func:`coverage_over_splits` (and, per group,
  :func:`group_coverage_over_splits`) for many random calibration/test splits at once;
* selective classification (abstaining): :func:`risk_coverage_curve`,
  :func:`area_under_risk_coverage` and :func:`threshold_for_accuracy`.

Everything works on NumPy arrays (no model needed), checks its input, and is
vectorised: there is no Python loop over samples.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = [
    "METHODS",
    "PrefitProbabilities",
    "SplitConformalClassifier",
    "SplitConformalRegressor",
    "area_under_risk_coverage",
    "classification_scores",
    "conformal_quantile",
    "coverage",
    "coverage_by_group",
    "coverage_over_splits",
    "group_coverage_over_splits",
    "mean_set_size",
    "mean_width",
    "quantile_rank",
    "risk_coverage_curve",
    "threshold_for_accuracy",
]

#: The classification scores :class:`SplitConformalClassifier` knows.
METHODS = ("lac", "aps", "raps")
_ROW_SUM_TOL = 1e-3


# ---------------------------------------------------------------------------
# Input checks


def _check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0 < a < 1:
        raise ValueError(
            f"alpha is the tolerated miscoverage and must lie strictly between 0 and 1,"
            " "
            f"got {alpha!r}; alpha = 0.1 asks for sets that cover 90% of new points"
        )
    return a


def _check_1d_finite(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == bool
    ):
        raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one value per sample), got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one value")
    if not np.isfinite(arr).all():
        raise ValueError(
            f"{name} contains NaN or infinite values; check how they were computed"
        )
    return arr


def _check_probs(probs, name: str = "probs") -> np.ndarray:
    p = np.asarray(probs)
    if p.dtype == object or not np.issubdtype(p.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got an array of dtype {p.dtype}")
    p = p.astype(np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(
            f"{name} must be an (N, C) array of class probabilities with C >= 2, "
            f"got shape {p.shape}"
        )
    if p.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass at least one row")
    if not np.isfinite(p).all():
        raise ValueError(
            f"{name} contains NaN or infinite values; check the model's output"
        )
    sums = p.sum(axis=1)
    bad = (p < 0).any(axis=1) | (np.abs(sums - 1) > _ROW_SUM_TOL)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{int(bad.sum())} row(s) of {name} are not probability vectors (row {i} "
            f"sums to {sums[i]:.4g}, smallest entry {p[i].min():.4g}); if these are "
            "logits, apply a "
            "softmax first, e.g. scipy.special.softmax(logits, axis=1)"
        )
    return p


def _check_labels(labels, n: int, n_classes: int, name: str = "labels") -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {y.shape}")
    if len(y) != n:
        raise ValueError(
            f"{name} has {len(y)} entries for {n} rows; pass one label per row"
        )
    if not np.issubdtype(y.dtype, np.integer):
        yf = y.astype(np.float64) if np.issubdtype(y.dtype, np.number) else None
        if yf is None or not np.isfinite(yf).all() or np.any(yf != np.round(yf)):
            raise ValueError(f"{name} must be integer class indices 0..{n_classes - 1}")
        y = yf
    y = y.astype(np.int64)
    bad = (y < 0) | (y >= n_classes)
    if bad.any():
        raise ValueError(
            f"{name} contain class index {int(y[bad][0])}, but there are only "
            f"{n_classes} "
            f"classes (valid indices 0..{n_classes - 1}); encode the labels as column "
            "indices of the probabilities, e.g. with "
            "trustworthy_lib.models.encode_labels"
        )
    return y


def _check_groups(groups, n: int) -> np.ndarray:
    g = np.asarray(groups)
    if g.ndim != 1 or len(g) != n:
        raise ValueError(
            f"groups must be 1-D with one entry per row ({n}), got shape {g.shape}"
        )
    return g


# ---------------------------------------------------------------------------
# The conformal quantile


def quantile_rank(n: int, alpha: float) -> int:
    """The rank ``k = ceil((n + 1)(1 - alpha))`` of the conformal quantile of n scores.

    The product is rounded to 9 decimals first, so that ``n = 9, alpha = 0.1`` gives
    ``k = 9`` (``10 * 0.9`` is ``9.000000000000002`` in floating point).
    """
    alpha = _check_alpha(alpha)
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(
            f"n must be a positive number of calibration scores, got {n!r}"
        )
    return math.ceil(round((int(n) + 1) * (1 - alpha), 9))


def conformal_quantile(scores, alpha: float) -> float:
    r"""The split-conformal threshold: the ceil((n + 1)(1 - alpha))-th smallest score.

    .. math:: \hat q = s_{(k)}, \qquad k = \lceil (n + 1)(1 - \alpha) \rceil .

    Returns ``+inf`` when ``k > n`` (too few scores for this ``alpha``: the only set
    with the guarantee is "everything"). Raises ValueError when ``alpha`` is not in
    (0, 1) or the scores are empty, NaN or infinite.
    """
    s = _check_1d_finite(scores, "scores")
    k = quantile_rank(len(s), alpha)
    if k > len(s):
        return math.inf
    return float(np.partition(s, k - 1)[k - 1])


def _threshold(scores: np.ndarray, alpha: float, what: str) -> float:
    q = conformal_quantile(scores, alpha)
    if math.isinf(q):
        n = len(scores)
        need = quantile_rank_min_n(alpha)
        warnings.warn(
            f"{what} has only {n} calibration point(s), too few for alpha = {alpha}: "
            "the "
            f"threshold is infinite, so every set holds every label (every interval is "
            f"infinite). Use at least {need} calibration points or a larger alpha.",
            stacklevel=3,
        )
    return q


def quantile_rank_min_n(alpha: float) -> int:
    """The smallest calibration size n for which the conformal threshold is finite."""
    alpha = _check_alpha(alpha)
    n = max(1, math.ceil(round(1 / alpha, 9)) - 1)
    while quantile_rank(n, alpha) > n:
        n += 1
    return n


def _fit_thresholds(scores: np.ndarray, alpha: float, groups):
    """One threshold, or a dict group -> threshold (Mondrian) when groups are given."""
    if groups is None:
        return _threshold(scores, alpha, "the calibration set")
    g = _check_groups(groups, len(scores))
    return {
        _plain(v): _threshold(scores[g == v], alpha, f"group {_plain(v)!r}")
        for v in np.unique(g)
    }


def _plain(v):
    """A NumPy scalar as the matching Python scalar (readable keys and messages)."""
    return v.item() if isinstance(v, np.generic) else v


def _thresholds_for(threshold, groups, n: int) -> np.ndarray:
    """The threshold of each of n rows: one number, or looked up by group (Mondrian)."""
    if not isinstance(threshold, dict):
        if groups is not None:
            raise ValueError(
                "groups were given at predict time but the model was fitted without "
                "groups; fit with groups=... for group-conditional (Mondrian) sets"
            )
        return np.full(n, threshold)
    if groups is None:
        raise ValueError(
            "the model was fitted with groups (Mondrian calibration), so predict needs "
            "the group of every row too: pass groups=... with values in "
            f"{sorted(threshold)}"
        )
    g = _check_groups(groups, n)
    values = np.unique(g)
    unseen = [_plain(v) for v in values if _plain(v) not in threshold]
    if unseen:
        raise ValueError(
            f"group {unseen[0]!r} was not in the calibration data, so it has no "
            f"threshold; the calibrated groups are {sorted(threshold)}. Calibrate with "
            "rows of that "
            "group, or merge it into a calibrated group"
        )
    out = np.empty(n)
    for v in values:  # a loop over groups, not samples
        out[g == v] = threshold[_plain(v)]
    return out


# ---------------------------------------------------------------------------
# Classification


def classification_scores(
    probs, method: str = "lac", k_reg: int = 1, lam: float = 0.01
):
    r"""The conformity score of every class of every row: an (N, C) array.

    * ``"lac"``: :math:`s(x, y) = 1 - \hat p_y(x)`;
    * ``"aps"``: the total probability of the classes ranked at or above y,
      :math:`s(x, y) = \sum_{j:\ \hat p_j \ge \hat p_y} \hat p_j` (deterministic, the
      true class included, no randomisation) [Romano, Sesia & Candès 2020];
    * ``"raps"``: APS plus :math:`\lambda \max(o_x(y) - k_{reg}, 0)`, where
      :math:`o_x(y)` is the rank of y (1 for the most probable class)
      [Angelopoulos et al. 2021].

    Ties in probability are ranked by class index (a stable sort).
    """
    if method not in METHODS:
        raise ValueError(
            f"unknown method {method!r}; choose one of {', '.join(METHODS)}"
        )
    p = _check_probs(probs)
    if method == "lac":
        return 1.0 - p
    order = np.argsort(-p, axis=1, kind="stable")
    cum_sorted = np.cumsum(np.take_along_axis(p, order, axis=1), axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(p.shape[1])[None, :], axis=1)
    scores = np.take_along_axis(cum_sorted, rank, axis=1)  # back to class order
    if method == "raps":
        scores = scores + lam * np.maximum(rank + 1 - k_reg, 0)
    return scores


class SplitConformalClassifier:
    """Split conformal prediction sets from class probabilities.

    Parameters
    ----------
    alpha:
        Tolerated miscoverage: sets cover a new label with probability >= 1 - alpha.
    method:
        ``"lac"``, ``"aps"`` or ``"raps"`` (see :func:`classification_scores`).
    k_reg, lam:
        The RAPS penalty ``lam * max(rank - k_reg, 0)``; ignored by the other methods.

    After :meth:`fit`, ``threshold_`` is one number, or a dict group -> threshold when
    ``groups`` were given (Mondrian, group-conditional calibration: each group gets its
    own threshold from its own calibration rows, so coverage holds within each group).
    """

    def __init__(
        self, alpha: float = 0.1, method: str = "lac", k_reg: int = 1, lam: float = 0.01
    ):
        self.alpha = _check_alpha(alpha)
        if method not in METHODS:
            raise ValueError(
                f"unknown method {method!r}; choose one of {', '.join(METHODS)}"
            )
        if isinstance(k_reg, bool) or int(k_reg) != k_reg or k_reg < 0:
            raise ValueError(f"k_reg must be a non-negative integer, got {k_reg!r}")
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam must be a non-negative number, got {lam!r}")
        self.method, self.k_reg, self.lam = method, int(k_reg), float(lam)

    def scores(self, probs) -> np.ndarray:
        """The (N, C) conformity scores of every class under this method."""
        return classification_scores(probs, self.method, self.k_reg, self.lam)

    def fit(self, probs, labels, groups=None) -> SplitConformalClassifier:
        """Calibrate on held-out probabilities and labels (never on the test set)."""
        s = self.scores(probs)
        y = _check_labels(labels, s.shape[0], s.shape[1])
        self.n_classes_ = s.shape[1]
        self.calibration_scores_ = s[np.arange(len(y)), y]
        self.threshold_ = _fit_thresholds(self.calibration_scores_, self.alpha, groups)
        return self

    def predict_sets(self, probs, groups=None) -> np.ndarray:
        """A boolean (N, C) array, True where the class is in the row's set."""
        if not hasattr(self, "threshold_"):
            raise RuntimeError("call fit(probs_cal, labels_cal) before predict_sets")
        s = self.scores(probs)
        if s.shape[1] != self.n_classes_:
            raise ValueError(
                f"probs has {s.shape[1]} classes but the model was calibrated with "
                f"{self.n_classes_} classes; pass probabilities of the same classes"
            )
        return s <= _thresholds_for(self.threshold_, groups, len(s))[:, None]


# ---------------------------------------------------------------------------
# Regression


class SplitConformalRegressor:
    """Split conformal prediction intervals.

    ``score="absolute"``: ``fit(cal_pred, y_cal)`` with (N,) point predictions; the
    score is ``|y - pred|`` and the interval ``pred +- q``.

    ``score="cqr"`` (conformalised quantile regression, Romano, Patterson & Candès
    2019): ``fit(cal_pred, y_cal)`` with (N, 2) lower and upper quantile predictions;
    the score is ``max(lo - y, y - hi)`` and the interval ``[lo - q, hi + q]``, one
    symmetric correction ``q`` (negative when the raw band is too wide).

    ``groups`` at fit and predict time give one threshold per group (Mondrian).
    """

    def __init__(self, alpha: float = 0.1, score: str = "absolute"):
        self.alpha = _check_alpha(alpha)
        if score not in ("absolute", "cqr"):
            raise ValueError(f"unknown score {score!r}; choose 'absolute' or 'cqr'")
        self.score = score

    def _check_pred(self, pred, name: str) -> np.ndarray:
        arr = np.asarray(pred)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(
                f"{name} must be numeric, got an array of dtype {arr.dtype}"
            )
        arr = arr.astype(np.float64)
        want = (
            "(N,) point predictions"
            if self.score == "absolute"
            else "(N, 2) lower/upper"
        )
        ok = (
            arr.ndim == 1
            if self.score == "absolute"
            else arr.ndim == 2 and arr.shape[1] == 2
        )
        if not ok:
            raise ValueError(
                f"score={self.score!r} needs {want} predictions, got shape {arr.shape}"
            )
        if arr.shape[0] == 0 or not np.isfinite(arr).all():
            raise ValueError(f"{name} is empty or contains NaN or infinite values")
        return arr

    def _scores(self, pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.score == "absolute":
            return np.abs(y - pred)
        return np.maximum(pred[:, 0] - y, y - pred[:, 1])

    def fit(self, cal_pred, y_cal, groups=None) -> SplitConformalRegressor:
        """Calibrate on held-out predictions and targets (never on the test set)."""
        pred = self._check_pred(cal_pred, "cal_pred")
        y = _check_1d_finite(y_cal, "y_cal")
        if len(y) != len(pred):
            raise ValueError(f"y_cal has {len(y)} values for {len(pred)} predictions")
        self.calibration_scores_ = self._scores(pred, y)
        self.threshold_ = _fit_thresholds(self.calibration_scores_, self.alpha, groups)
        return self

    def predict_interval(self, pred, groups=None) -> np.ndarray:
        """An (N, 2) array of interval bounds [lower, upper]."""
        if not hasattr(self, "threshold_"):
            raise RuntimeError("call fit(cal_pred, y_cal) before predict_interval")
        pred = self._check_pred(pred, "pred")
        q = _thresholds_for(self.threshold_, groups, len(pred))
        if self.score == "absolute":
            return np.column_stack([pred - q, pred + q])
        return np.column_stack([pred[:, 0] - q, pred[:, 1] + q])


# ---------------------------------------------------------------------------
# Evaluation


def _covered(sets_or_intervals, y) -> tuple[np.ndarray, np.ndarray]:
    """Per-row coverage (bool) and per-row size (set size or interval width)."""
    a = np.asarray(sets_or_intervals)
    if a.ndim != 2:
        raise ValueError(
            "pass a boolean (N, C) array of prediction sets or an (N, 2) array of "
            f"intervals, got shape {a.shape}"
        )
    if a.dtype == bool:
        labels = _check_labels(y, a.shape[0], a.shape[1], "y")
        return a[np.arange(len(labels)), labels], a.sum(axis=1).astype(np.float64)
    if a.shape[1] != 2 or not np.issubdtype(a.dtype, np.number):
        raise ValueError(
            f"intervals must be a numeric (N, 2) array [lower, upper], got {a.dtype} "
            f"{a.shape}; prediction sets must be boolean (N, C)"
        )
    target = _check_1d_finite(y, "y")
    if len(target) != len(a):
        raise ValueError(f"y has {len(target)} values for {len(a)} intervals")
    if np.isnan(a).any():
        raise ValueError("intervals contain NaN")
    return (a[:, 0] <= target) & (target <= a[:, 1]), a[:, 1] - a[:, 0]


def coverage(sets_or_intervals, y) -> float:
    """The fraction of rows whose set holds the label (or interval holds the target).

    Boolean (N, C) input is read as prediction sets with integer labels ``y``; numeric
    (N, 2) input as intervals [lower, upper] (bounds included) with real targets ``y``.
    """
    return float(np.mean(_covered(sets_or_intervals, y)[0]))


def mean_set_size(sets) -> float:
    """The mean number of classes per prediction set (boolean (N, C))."""
    a = np.asarray(sets)
    if a.dtype != bool or a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(
            f"sets must be a non-empty boolean (N, C) array, got {a.dtype} {a.shape}"
        )
    return float(a.sum(axis=1).mean())


def mean_width(intervals) -> float:
    """The mean width ``upper - lower`` of (N, 2) intervals (``inf`` if one is)."""
    a = np.asarray(intervals, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] == 0:
        raise ValueError(
            f"intervals must be a non-empty (N, 2) array, got shape {a.shape}"
        )
    return float(np.mean(a[:, 1] - a[:, 0]))


def binomial_interval(successes, n, confidence: float = 0.95):
    """Exact (Clopper-Pearson) interval for a proportion; vectorised over arrays."""
    from scipy.stats import beta

    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    tail = (1 - confidence) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, beta.ppf(tail, k, n - k + 1), 0.0)
        high = np.where(k < n, beta.ppf(1 - tail, k + 1, n - k), 1.0)
    return low, high


def coverage_by_group(
    sets_or_intervals, y, groups, confidence: float = 0.95
) -> pd.DataFrame:
    """Coverage per group, with its size, count and an exact binomial interval.

    Returns a DataFrame indexed by group with columns ``coverage``, ``mean set size``
    (for sets) or ``mean width`` (for intervals), ``n``, ``ci_low`` and ``ci_high``
    (Clopper-Pearson at ``confidence``).
    """
    hit, size = _covered(sets_or_intervals, y)
    g = _check_groups(groups, len(hit))
    size_name = (
        "mean set size" if np.asarray(sets_or_intervals).dtype == bool else "mean width"
    )
    keys = np.unique(g)
    n = np.array([np.sum(g == v) for v in keys])
    k = np.array([hit[g == v].sum() for v in keys])
    low, high = binomial_interval(k, n, confidence)
    return pd.DataFrame(
        {
            "coverage": k / n,
            size_name: [size[g == v].mean() for v in keys],
            "n": n,
            "ci_low": low,
            "ci_high": high,
        },
        index=pd.Index([_plain(v) for v in keys], name="group"),
    )


def coverage_over_splits(
    true_scores, n_cal: int, alpha: float, n_splits: int = 500, seed: int = 0
) -> np.ndarray:
    """Coverage of split conformal over many random calibration/test splits at once.

    ``true_scores`` holds the conformity score of the *true* label of each of N
    points (a point is covered exactly when its score is at or below the threshold).
    Each split puts ``n_cal`` random points in the calibration set and the other
    ``N - n_cal`` in the test set. The work is one (n_splits, N) shuffle and one sort
    of the calibration block: no Python loop over splits or samples. Returns the
    ``n_splits`` test coverages; split ``i`` uses row ``i`` of
    :func:`split_permutations`.
    """
    s = _check_1d_finite(true_scores, "true_scores")
    if not 1 <= n_cal < len(s):
        raise ValueError(
            f"n_cal must be between 1 and N - 1 = {len(s) - 1}, got {n_cal}"
        )
    perm = split_permutations(len(s), n_splits, seed)
    shuffled = s[perm]
    k = quantile_rank(n_cal, alpha)
    if k > n_cal:
        return np.ones(n_splits)
    q = np.sort(shuffled[:, :n_cal], axis=1)[:, k - 1]
    return np.mean(shuffled[:, n_cal:] <= q[:, None], axis=1)


def group_coverage_over_splits(
    true_scores,
    groups,
    n_cal: int,
    alpha: float,
    n_splits: int = 500,
    seed: int = 0,
    mondrian: bool = False,
) -> pd.DataFrame:
    """Test coverage of each group over many random calibration/test splits at once.

    The splits are those of :func:`coverage_over_splits` (same ``seed``, same
    permutations). With ``mondrian=False`` every split has one threshold from all its
    calibration points; with ``mondrian=True`` each group gets its own threshold from
    its own calibration points (infinite when it has too few). Returns a DataFrame with
    one row per split and one column per group (NaN where a split has no test point
    of that group). Loops run over groups only, never over splits or samples.
    """
    s = _check_1d_finite(true_scores, "true_scores")
    g = _check_groups(groups, len(s))
    if not 1 <= n_cal < len(s):
        raise ValueError(
            f"n_cal must be between 1 and N - 1 = {len(s) - 1}, got {n_cal}"
        )
    perm = split_permutations(len(s), n_splits, seed)
    cal, test = s[perm[:, :n_cal]], s[perm[:, n_cal:]]
    cal_g, test_g = g[perm[:, :n_cal]], g[perm[:, n_cal:]]
    alpha = _check_alpha(alpha)
    rows = np.arange(n_splits)
    if not mondrian:
        k = quantile_rank(n_cal, alpha)
        q = np.sort(cal, axis=1)[:, k - 1] if k <= n_cal else np.full(n_splits, np.inf)
    out = {}
    for v in np.unique(g):  # a loop over groups
        if mondrian:
            in_g = cal_g == v
            n_g = in_g.sum(axis=1)
            k_g = np.ceil(np.round((n_g + 1) * (1 - alpha), 9)).astype(int)
            ranked = np.sort(np.where(in_g, cal, np.inf), axis=1)
            q = np.where(k_g <= n_g, ranked[rows, np.clip(k_g, 1, n_cal) - 1], np.inf)
        mask = test_g == v
        with np.errstate(invalid="ignore", divide="ignore"):
            hits = ((test <= q[:, None]) & mask).sum(axis=1)
            out[_plain(v)] = hits / mask.sum(axis=1)
    return pd.DataFrame(out, index=pd.RangeIndex(n_splits, name="split"))


def split_permutations(n: int, n_splits: int, seed: int = 0) -> np.ndarray:
    """The (n_splits, n) random permutations used by :func:`coverage_over_splits`."""
    if n_splits < 1:
        raise ValueError(f"n_splits must be positive, got {n_splits}")
    rows = np.broadcast_to(np.arange(n), (n_splits, n))
    return np.random.default_rng(seed).permuted(rows, axis=1)


# ---------------------------------------------------------------------------
# Selective classification (abstaining)


def _check_selective(confidence, correct):
    c = _check_1d_finite(confidence, "confidence")
    ok = np.asarray(correct)
    if ok.ndim != 1 or len(ok) != len(c):
        raise ValueError(
            f"correct must be 1-D with one entry per confidence ({len(c)}), got "
            f"shape {ok.shape}"
        )
    if not np.isin(ok, [0, 1]).all():
        raise ValueError("correct must be boolean (or 0/1): was each prediction right?")
    return c, ok.astype(bool)


def risk_coverage_curve(confidence, correct):
    """Risk (error rate among kept points) against coverage (fraction kept).

    Keep the points whose confidence is at or above a threshold and abstain on the
    rest. Returns ``(coverage, risk, thresholds)``, one entry per distinct confidence
    value from the highest down (tied points are kept or dropped together).
    """
    c, ok = _check_selective(confidence, correct)
    order = np.argsort(-c, kind="stable")
    c_sorted, err = c[order], (~ok[order]).astype(np.float64)
    last = np.r_[c_sorted[1:] != c_sorted[:-1], True]  # the last row of each tie block
    kept = np.arange(1, len(c) + 1)[last]
    errors = np.cumsum(err)[last]
    return kept / len(c), errors / kept, c_sorted[last]


def area_under_risk_coverage(confidence, correct) -> float:
    """AURC: the area under the risk-coverage step curve (lower is better).

    Without ties it equals the mean, over k = 1..N, of the error rate among the k
    most confident points [Geifman & El-Yaniv 2017].
    """
    cov, risk, _ = risk_coverage_curve(confidence, correct)
    return float(np.sum(np.diff(np.r_[0.0, cov]) * risk))


def threshold_for_accuracy(confidence, correct, target: float) -> float:
    """The lowest confidence threshold whose kept points reach ``target`` accuracy.

    Choose it on calibration data, then apply ``confidence >= threshold`` to new data
    (their accuracy is then an estimate, not a guarantee). Returns ``inf`` (abstain on
    everything) when no threshold reaches the target.
    """
    if not 0 < target <= 1:
        raise ValueError(f"target accuracy must be in (0, 1], got {target!r}")
    _, risk, thresholds = risk_coverage_curve(confidence, correct)
    ok = np.flatnonzero(1 - risk >= target - 1e-12)
    return float(thresholds[ok[-1]]) if ok.size else math.inf


# ---------------------------------------------------------------------------
# Interoperability


class PrefitProbabilities(ClassifierMixin, BaseEstimator):
    """A fitted scikit-learn classifier whose input *is* its probability matrix.

    MAPIE's ``prefit`` classes expect a fitted estimator with ``predict_proba``. Pass
    the probabilities you already have as ``X``, and this object hands them back
    (checked), so MAPIE and :class:`SplitConformalClassifier` see the same numbers::

        est = PrefitProbabilities(n_classes=4)
        mapie = mapie.classification.SplitConformalClassifier(est, prefit=True)
        mapie.conformalize(p_cal, y_cal).predict_set(p_test)
    """

    def __init__(self, n_classes: int = 2):
        self.n_classes = n_classes
        self.classes_ = np.arange(n_classes)

    def fit(self, X=None, y=None) -> PrefitProbabilities:
        """Nothing to learn; present so that scikit-learn treats it as an estimator."""
        self.classes_ = np.arange(self.n_classes)
        return self

    def predict_proba(self, X) -> np.ndarray:
        p = _check_probs(X, "X (the probabilities)")
        if p.shape[1] != self.n_classes:
            raise ValueError(f"X has {p.shape[1]} columns for {self.n_classes} classes")
        return p

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)
