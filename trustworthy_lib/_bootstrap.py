"""The nonparametric bootstrap, stated once for every module of :mod:`trustworthy_lib`.

Each bootstrap in the package resamples rows (people, images) with replacement and
reports a percentile interval (Efron and Tibshirani 1993). The two steps live here:

* :func:`resample_indices` draws the index matrix ``idx`` of shape ``(n_boot, n)``;
  replicate ``b`` uses the rows ``idx[b]``. Without groups it is exactly
  ``np.random.default_rng(seed).integers(0, n, (n_boot, n))``. With groups, each
  group's rows are resampled among themselves, in place, so every replicate keeps
  each group's size and ``groups[idx[b]]`` equals ``groups``.
* :func:`percentile_interval` turns replicates into the ``alpha / 2`` and
  ``1 - alpha / 2`` quantiles, with ``alpha = 1 - confidence``. A replicate where the
  statistic is undefined (NaN, e.g. an AUROC of a resample that drew one class) is
  left out of the interval and counted.

A statistic that takes a batch computes all replicates at once from ``x[idx]`` (shape
``(n_boot, n, ...)``); otherwise the caller loops over the rows of ``idx``.
"""

from __future__ import annotations

import warnings

import numpy as np

from trustworthy_lib._validation import (
    check_confidence,
    check_group_labels,
    check_positive_int,
)

__all__ = ["percentile_interval", "resample_indices"]


def resample_indices(n: int, n_boot: int, seed=0, groups=None) -> np.ndarray:
    """Row indices of ``n_boot`` bootstrap resamples of ``n`` rows: ``(n_boot, n)``.

    Parameters
    ----------
    n : int
        Number of rows to resample.
    n_boot : int
        Number of replicates.
    seed : int or numpy.random.Generator, default 0
        Seed of ``np.random.default_rng``, or a generator to draw from (its state
        advances).
    groups : array-like of shape (n,), optional
        One group label per row. Rows are then drawn only from their own group: position
        ``j`` of every replicate holds a row of the same group as row ``j``, so each
        group keeps its size. Groups are drawn one after another, in sorted label order.

    Returns
    -------
    numpy.ndarray of int64, shape (n_boot, n)
        Without ``groups``, ``rng.integers(0, n, size=(n_boot, n))``.
    """
    n = check_positive_int(n, "n")
    n_boot = check_positive_int(n_boot, "n_boot")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if groups is None:
        return rng.integers(0, n, size=(n_boot, n))
    labels = check_group_labels(groups, "groups")
    if len(labels) != n:
        raise ValueError(
            f"groups has {len(labels)} entries but there are {n} rows; pass one group "
            "label per row"
        )
    codes = np.unique(labels, return_inverse=True)[1].ravel()
    idx = np.empty((n_boot, n), dtype=np.int64)
    for k in range(codes.max() + 1):  # a loop over groups, not replicates
        members = np.flatnonzero(codes == k)
        idx[:, members] = members[rng.integers(0, len(members), (n_boot, len(members)))]
    return idx


def percentile_interval(replicates, confidence: float = 0.95):
    """Percentile interval of bootstrap replicates, leaving out undefined (NaN) ones.

    Parameters
    ----------
    replicates : array-like of shape (n_boot,) or (n_boot, k)
        One value per replicate (and per statistic, for ``k`` statistics at once). NaN
        marks a replicate where the statistic is undefined.
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    low, high, undefined
        The ``alpha / 2`` and ``1 - alpha / 2`` quantiles (``alpha = 1 - confidence``,
        linear interpolation, as ``np.quantile``) of the defined replicates, and the
        number of NaN replicates. Floats and an int for 1-D input, arrays of length
        ``k`` for 2-D input. A statistic with no defined replicate gets NaN bounds.
    """
    confidence = check_confidence(confidence)
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.ndim not in (1, 2) or reps.shape[0] == 0:
        raise ValueError(
            "replicates must have shape (n_boot,) or (n_boot, k) with n_boot >= 1, got "
            f"shape {reps.shape}"
        )
    undefined = np.isnan(reps).sum(axis=0)
    alpha = 1.0 - confidence
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: NaN bounds
        low, high = np.nanquantile(reps, [alpha / 2, 1 - alpha / 2], axis=0)
    if reps.ndim == 1:
        return float(low), float(high), int(undefined)
    return low, high, undefined
