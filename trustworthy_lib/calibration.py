"""Calibration of a classifier: ECE, reliability diagrams, proper scores and temperature
scaling.

A classifier is *calibrated* when, among the inputs it labels with confidence ``p``, a
fraction ``p`` is labelled correctly (Guo et al., 2017, "On Calibration of Modern Neural
Networks", ICML). Conventions, stated once for the whole module:

* ``probs`` is an (N, C) array of class probabilities: each row is non-negative and sums
  to 1. Pass logits through a softmax first; functions that need logits say so.
* ``labels`` holds integer class indices 0..C-1 (see
  :func:`trustworthy_lib.models.encode_labels`).
* The *confidence* of a prediction is its top-label probability ``max_k p_k``; the
  prediction is ``argmax_k p_k`` (the first index on ties, as NumPy and torch do).
* NumPy arrays and torch tensors are both accepted; results are Python floats or NumPy
  arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from trustworthy_lib._bootstrap import percentile_interval, resample_indices
from trustworthy_lib._validation import (
    PROB_TOL,
    NotFittedError,
    check_class_labels,
    check_confidence,
    check_logits_tensor,
    check_positive_int,
    to_numpy,
)
from trustworthy_lib._validation import check_probabilities as _check_probs

__all__ = [
    "brier_score",
    "calibration_bins",
    "CalibrationBins",
    "check_probabilities",
    "expected_calibration_error",
    "negative_log_likelihood",
    "probabilistic_scores",
    "reliability_diagram",
    "TemperatureScaler",
]


def _check_labels(labels, n: int, num_classes: int, what: str) -> np.ndarray:
    y = check_class_labels(labels, "labels", num_classes)
    if len(y) != n:
        raise ValueError(
            f"{what} has {n} rows but labels has {len(y)}; pass one label per row"
        )
    return y


def check_probabilities(probs, labels=None, name: str = "probs"):
    """Validate an (N, C) probability matrix (and optional labels); return NumPy arrays.

    Raises :class:`ValueError` for a wrong shape, an empty input, NaN or infinity, or
    rows that are not probability vectors (negative entries, or rows that do not sum to
    1 within :data:`trustworthy_lib._validation.PROB_TOL`): such rows are usually
    logits, so the message suggests a softmax. Labels are class indices 0..C-1.
    """
    p = _check_probs(probs, name)
    if labels is None:
        return p
    return p, _check_labels(labels, p.shape[0], p.shape[1], name)


@dataclass(frozen=True)
class CalibrationBins:
    """Per-bin statistics of top-label confidence, for ECE and the reliability diagram.

    ``edges`` has ``n_bins + 1`` entries. ``count``, ``confidence`` (mean confidence)
    and ``accuracy`` (fraction correct) have ``n_bins + 1`` entries: the bins
    ``[edges[m], edges[m+1])`` and, last, the bin of confidences exactly equal to 1 (see
    :func:`expected_calibration_error`). Empty bins have confidence and accuracy 0.
    """

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def n(self) -> int:
        return int(self.count.sum())


def calibration_bins(probs, labels, n_bins: int = 15) -> CalibrationBins:
    """Bin predictions by top-label confidence into ``n_bins`` equal bins on [0, 1].

    Bin ``m`` holds confidences in ``[m/M, (m+1)/M)``; a confidence of exactly 1 gets a
    bin of its own, as in torchmetrics. The comparison is done in the dtype of ``probs``
    with ``torch.linspace`` edges, so the binning is the one torchmetrics computes.
    """
    p, y = check_probabilities(probs, labels)
    n_bins = check_positive_int(n_bins, "n_bins")
    t = torch.from_numpy(np.ascontiguousarray(p))
    if t.dtype not in (torch.float32, torch.float64):
        t = t.double()
    conf, pred = t.max(dim=1)
    correct = (pred.numpy() == y).astype(np.float64)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=t.dtype)
    idx = (torch.bucketize(conf, edges, right=True) - 1).numpy()
    conf = conf.double().numpy()
    count = np.bincount(idx, minlength=n_bins + 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.nan_to_num(
            np.bincount(idx, weights=conf, minlength=n_bins + 1) / count
        )
        mean_acc = np.nan_to_num(
            np.bincount(idx, weights=correct, minlength=n_bins + 1) / count
        )
    return CalibrationBins(
        edges=edges.double().numpy(),
        count=count,
        confidence=mean_conf,
        accuracy=mean_acc,
    )


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    r"""Top-label expected calibration error, equal-width bins (Guo et al., 2017).

    This is eq. 3 of Guo et al. (2017).

    .. math::

        \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{N}\,
        \bigl|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\bigr|

    where :math:`B_m` holds the predictions whose confidence :math:`\max_k p_k` falls in
    bin ``m``. Bins are left-closed, ``[m/M, (m+1)/M)``, and a confidence of exactly 1
    has a bin of its own; that is what torchmetrics'
    ``MulticlassCalibrationError(num_classes=C, n_bins=M, norm="l1")`` computes, and
    this function agrees with it to float precision. Returns a float in [0, 1] (multiply
    by 100 for the percentages that papers report).
    """
    bins = calibration_bins(probs, labels, n_bins)
    return float(np.sum(bins.count / bins.n * np.abs(bins.accuracy - bins.confidence)))


def reliability_diagram(
    probs,
    labels,
    n_bins: int = 15,
    ax=None,
    title: str | None = None,
    label: str = "model",
):
    """Draw a reliability diagram: accuracy against confidence per bin.

    The gap to the diagonal is shown for every bin.

    Bars show each bin's accuracy; red hatched boxes show the gap between accuracy and
    the bin's mean confidence (above the bar: over-confidence; below: under-confidence).
    Empty bins are left blank. The ECE (same bins, :func:`expected_calibration_error`)
    is in the legend. For display only, confidences of exactly 1 are drawn in the last
    bar. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    bins = calibration_bins(probs, labels, n_bins)
    ece = expected_calibration_error(probs, labels, n_bins)
    m = len(bins.edges) - 1
    count = bins.count[:m].copy()
    conf_sum = bins.confidence[:m] * count
    acc_sum = bins.accuracy[:m] * count
    count[-1] += bins.count[m]
    conf_sum[-1] += bins.confidence[m] * bins.count[m]
    acc_sum[-1] += bins.accuracy[m] * bins.count[m]
    filled = count > 0
    conf = np.divide(conf_sum, count, out=np.zeros(m), where=filled)
    acc = np.divide(acc_sum, count, out=np.zeros(m), where=filled)
    width = 1.0 / m
    left = bins.edges[:m]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.bar(
        left[filled],
        acc[filled],
        width=width,
        align="edge",
        color="tab:blue",
        edgecolor="black",
        linewidth=0.5,
        label=f"{label}: accuracy per bin",
    )
    ax.bar(
        left[filled],
        conf[filled] - acc[filled],
        bottom=acc[filled],
        width=width,
        align="edge",
        color="tab:red",
        alpha=0.3,
        edgecolor="tab:red",
        hatch="//",
        linewidth=0.5,
        label=f"gap to mean confidence (ECE = {100 * ece:.2f} %)",
    )
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top-label probability)")
    ax.set_ylabel("accuracy (fraction correct)")
    ax.set_title(title or f"Reliability diagram, {m} bins")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def negative_log_likelihood(probs, labels, eps: float = 1e-12) -> float:
    r"""Mean negative log-likelihood of the true class, in nats.

    That is :math:`-\frac1N\sum_i \log p_{i,y_i}`.

    Probabilities are clipped below at ``eps`` so that a confident mistake costs
    ``-log(eps)`` instead of infinity. Equals ``sklearn.metrics.log_loss`` when no
    probability is below ``eps``.
    """
    p, y = check_probabilities(probs, labels)
    return float(
        -np.mean(np.log(np.clip(p[np.arange(len(y)), y].astype(np.float64), eps, None)))
    )


def brier_score(probs, labels) -> float:
    r"""Multiclass Brier score (Brier, 1950).

    That is :math:`\frac1N\sum_i\sum_k (p_{ik} - \mathbb{1}[y_i = k])^2`.

    It ranges from 0 (perfect) to 2, as in ``sklearn.metrics.brier_score_loss(...,
    scale_by_half=False)``; like NLL it is a strictly proper scoring rule.
    """
    p, y = check_probabilities(probs, labels)
    onehot = np.zeros_like(p, dtype=np.float64)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p.astype(np.float64) - onehot) ** 2, axis=1)))


def _check_logits(logits) -> torch.Tensor:
    return check_logits_tensor(logits).cpu().double()


class TemperatureScaler:
    r"""Temperature scaling (Guo et al., 2017): divide the logits by one scalar ``T``.

    Section 4.2 of Guo et al. (2017); ``T > 0``.

    ``fit(logits, labels)`` chooses ``T`` to minimise the negative log-likelihood of
    ``softmax(logits / T)`` on held-out *validation* logits (never the test set); it
    optimises :math:`\log T` with L-BFGS in float64. ``transform(logits)`` returns
    ``logits / T`` (same type as the input), and ``predict_proba(logits)`` its softmax.
    Dividing every logit by the same positive number keeps their order, so the predicted
    class, and hence the accuracy, does not change. ``T > 1`` softens over-confident
    predictions; ``T < 1`` sharpens under-confident ones.

    Attributes
    ----------
    temperature_ : float
        The fitted temperature (set by :meth:`fit`).
    """

    def __init__(self, max_iter: int = 200):
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.temperature_: float | None = None

    def fit(self, logits, labels) -> TemperatureScaler:
        z = _check_logits(logits)
        row_sums = z.sum(dim=1)
        if bool(((z >= 0) & (z <= 1)).all()) and bool(
            (row_sums - 1).abs().max() < PROB_TOL
        ):
            raise ValueError(
                "the logits look like probabilities (every row is in [0, 1] and sums "
                "to 1); temperature scaling works on logits, so pass the model's raw "
                "outputs (or np.log(probs))"
            )
        y = torch.from_numpy(_check_labels(labels, z.shape[0], z.shape[1], "logits"))
        log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS(
            [log_t], lr=0.5, max_iter=self.max_iter, line_search_fn="strong_wolfe"
        )

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
            loss.backward()
            return loss

        opt.step(closure)
        self.temperature_ = float(log_t.detach().exp())
        return self

    def _check_fitted(self):
        if self.temperature_ is None:
            raise NotFittedError(
                "this TemperatureScaler is not fitted yet; call fit(val_logits, "
                "val_labels) first"
            )

    def transform(self, logits):
        """Return ``logits / T``: an array for array input, a tensor for tensors."""
        self._check_fitted()
        _check_logits(logits)
        if isinstance(logits, torch.Tensor):
            return logits / self.temperature_
        return np.asarray(logits) / self.temperature_

    def predict_proba(self, logits) -> np.ndarray:
        """Return ``softmax(logits / T)`` as a float64 NumPy array of shape (N, C)."""
        self._check_fitted()
        z = _check_logits(logits)
        return torch.softmax(z / self.temperature_, dim=1).numpy()


def probabilistic_scores(probs, labels, n_bins: int = 15) -> dict:
    """Accuracy, NLL (nats), Brier score and ECE of one set of predictions, as a dict.

    The ECE uses ``n_bins`` bins.

    The four columns of a method-comparison table; each is computed by the function of
    the same name in this module (accuracy is the fraction of rows whose argmax is the
    label).
    """
    p, y = check_probabilities(probs, labels)
    return {
        "accuracy": float(np.mean(p.argmax(axis=1) == y)),
        "nll": negative_log_likelihood(p, y),
        "brier": brier_score(p, y),
        "ece": expected_calibration_error(p, y, n_bins),
    }


# ---------------------------------------------------------------------------
# How sure is a comparison? (chapter 08b)


def bootstrap_interval(
    statistic,
    *arrays,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    groups=None,
    batched: bool = False,
) -> tuple[float, float, float]:
    """Percentile bootstrap interval of ``statistic(*arrays)``, resampling rows.

    All ``arrays`` are resampled with the *same* row indices, so a statistic of two
    methods' predictions on the same inputs (a difference of scores) is a paired
    bootstrap. With ``groups`` (one label per row), rows are resampled within each group
    and every group keeps its size: use it for an AUROC, so that each resample keeps the
    number of ID and OOD inputs.

    Parameters
    ----------
    statistic : callable
        ``statistic(*arrays)`` returns one number. With ``batched=True`` it receives
        arrays with a leading replicate axis, ``(m, n, ...)``, and returns ``m``
        numbers; all replicates are then computed without a Python loop (in chunks of
        replicates, to bound memory).
    *arrays : array-like
        One or more arrays with the same number of rows ``n``.
    n_boot : int, default 1000
        Number of resamples.
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.
    seed : int, default 0
        Seed of the resampling.
    groups : array-like of shape (n,), optional
        Group labels for a stratified bootstrap.
    batched : bool, default False
        Whether ``statistic`` takes a batch of replicates (see above).

    Returns
    -------
    (estimate, low, high)
        The statistic on the data and the ``(1 - confidence) / 2`` and
        ``(1 + confidence) / 2`` quantiles over the resamples. Resamples where the
        statistic is NaN (undefined) are left out, with a ``RuntimeWarning`` that
        counts them.
    """
    if not arrays:
        raise ValueError("pass at least one array to resample")
    arrays = [to_numpy(a) for a in arrays]
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        raise ValueError(
            f"the arrays must be non-empty and have the same number of rows, "
            f"got {[len(a) for a in arrays]}"
        )
    n_boot = check_positive_int(n_boot, "n_boot")
    confidence = check_confidence(confidence)
    idx = resample_indices(n, n_boot, seed, groups)
    if batched:
        row_size = sum(int(np.prod(a.shape[1:])) for a in arrays) * n
        chunk = max(1, 2**24 // max(row_size, 1))  # about 128 MB of float64 per chunk
        parts = [
            np.asarray(statistic(*(a[idx[i : i + chunk]] for a in arrays)), float)
            for i in range(0, n_boot, chunk)  # a loop over chunks, not replicates
        ]
        stats = np.concatenate([p.reshape(-1) for p in parts])
        if stats.shape != (n_boot,):
            raise ValueError(
                f"with batched=True, statistic must return one value per replicate "
                f"(got {stats.size} values for {n_boot} replicates); reduce over every "
                "axis but the first, or pass batched=False"
            )
        estimate = float(np.asarray(statistic(*(a[None] for a in arrays))).ravel()[0])
    else:
        stats = np.array(
            [statistic(*(a[i] for a in arrays)) for i in idx], dtype=np.float64
        )
        estimate = float(statistic(*arrays))
    low, high, undefined = percentile_interval(stats, confidence)
    if undefined:
        warnings.warn(
            f"the statistic is undefined (NaN) on {undefined} of {n_boot} resamples; "
            "they are left out of the interval",
            RuntimeWarning,
            stacklevel=2,
        )
    return estimate, low, high


def interval_word(
    low: float,
    high: float,
    *,
    higher_is_better: bool = True,
    better: str = "better",
    worse: str = "worse",
    same: str = "the same within noise",
) -> str:
    """Describe a difference ``a - b`` from its interval: better, worse or the same.

    The difference counts as real only when the whole interval lies on one side of 0;
    ``higher_is_better`` says which side is "better" (True for accuracy and AUROC, False
    for NLL, Brier and ECE).
    """
    if not low <= high:
        raise ValueError(f"low must not exceed high, got ({low}, {high})")
    if low > 0:
        return better if higher_is_better else worse
    if high < 0:
        return worse if higher_is_better else better
    return same
