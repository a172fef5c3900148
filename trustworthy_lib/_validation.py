"""One validation layer for every public module of :mod:`trustworthy_lib`.

Each check takes the learner's input and a ``name`` to quote, returns the input in the
form the caller computes with (a NumPy array or a torch tensor), and otherwise raises
with a sentence that says what is wrong and how to fix it. The rules are stated once:

* Wrong *type* (a string where a number belongs, a list where a model belongs) raises
  :class:`InputTypeError`; a wrong *value* (shape, range, NaN) raises ``ValueError``.
  :class:`InputTypeError` is also a ``ValueError``, so ``except ValueError`` catches
  both.
* Using an estimator before ``fit`` raises :class:`NotFittedError`.
* "Finite" rejects NaN **and** infinity.
* A class label may be an integer or an integral float (``3.0``); ``3.5`` is refused.
* A probability row sums to 1 within :data:`PROB_TOL` (one tolerance everywhere).
* A positive integer is an ``int`` or NumPy integer greater than 0, never a ``bool``.
* A missing group label (``None``, NaN, ``pd.NA``) is refused, never counted as a group.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = [
    "PROB_TOL",
    "InputTypeError",
    "NotFittedError",
    "as_1d",
    "check_binary",
    "check_class_labels",
    "check_confidence",
    "check_features",
    "check_finite",
    "check_group_labels",
    "check_logits",
    "check_logits_tensor",
    "check_positive_int",
    "check_probabilities",
    "check_same_length",
    "check_scores",
    "to_numpy",
]

PROB_TOL = 1e-3
"""How far a row of probabilities may sum from 1 (float32 softmax outputs pass)."""


class InputTypeError(TypeError, ValueError):
    """An argument has the wrong type (for example text where numbers are needed)."""


class NotFittedError(RuntimeError, ValueError):
    """An estimator was used before ``fit`` was called."""


def to_numpy(x) -> np.ndarray:
    """``x`` as a NumPy array; torch tensors are detached and moved to the CPU."""
    if hasattr(x, "detach") and hasattr(
        x, "cpu"
    ):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    elif isinstance(x, (pd.Series, pd.Index)):
        x = x.to_numpy()
    return np.asarray(x)


def _numeric(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == bool:
        return arr
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise InputTypeError(
            f"{name} must hold numbers, got an array of dtype {arr.dtype}; convert it "
            "first, e.g. with pd.to_numeric or by encoding categories as integers"
        )
    return arr


def as_1d(x, name: str) -> np.ndarray:
    """A non-empty 1-D array (an (N, 1) column is flattened)."""
    arr = to_numpy(x)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one value per sample), got shape "
            f"{arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one sample")
    return arr


def check_same_length(**arrays) -> int:
    """Raise unless every array has the same length; return that length."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(
            f"mismatched lengths: {listing}. Each needs one entry per sample, in the "
            "same order (did you pass the labels of a different split?)"
        )
    return next(iter(lengths.values()))


def check_finite(x, name: str) -> np.ndarray:
    """``x`` as a float64 array with no NaN and no infinity."""
    arr = _numeric(to_numpy(x), name).astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.flatnonzero(bad.ravel())[:5].tolist()
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite value(s), first at flat "
            f"position(s) {where}; drop or impute those entries first"
        )
    return arr


def check_scores(x, name: str = "scores") -> np.ndarray:
    """A finite, non-empty 1-D float64 array: one score per sample."""
    return check_finite(as_1d(x, name), name)


def check_binary(x, name: str) -> np.ndarray:
    """A 1-D int64 array of 0/1 labels (booleans accepted; 1 is the positive class)."""
    arr = check_finite(as_1d(x, name), name)
    bad = np.setdiff1d(np.unique(arr), [0.0, 1.0])
    if bad.size:
        raise ValueError(
            f"{name} must contain only 0 (negative) and 1 (positive), but it also "
            f"contains {bad[:5].tolist()}; threshold scores or map class names to 0/1 "
            "first"
        )
    return arr.astype(np.int64)


def check_class_labels(
    x, name: str = "labels", num_classes: int | None = None
) -> np.ndarray:
    """A 1-D int64 array of class indices ``0..num_classes-1``.

    Integral floats (``2.0``) are accepted; fractions, NaN and infinity are not.
    """
    arr = _numeric(as_1d(x, name), name)
    if not np.issubdtype(arr.dtype, np.integer):
        as_float = arr.astype(np.float64)
        if not np.isfinite(as_float).all() or (as_float != np.round(as_float)).any():
            raise ValueError(
                f"{name} must be integer class indices 0..C-1, not scores or "
                "probabilities; take the argmax of probabilities, or encode class "
                "names as integers"
            )
    arr = arr.astype(np.int64)
    if num_classes is not None:
        bad = arr[(arr < 0) | (arr >= num_classes)]
        if bad.size:
            raise ValueError(
                f"{name} contains class index {int(bad[0])}, but there are only "
                f"{num_classes} classes (valid indices 0..{num_classes - 1}); encode "
                "labels with trustworthy_lib.models.encode_labels"
            )
    elif (arr < 0).any():
        raise ValueError(f"{name} contains a negative class index; classes are 0..C-1")
    return arr


def _matrix(x, name: str, what: str, min_cols: int) -> np.ndarray:
    arr = _numeric(to_numpy(x), name)
    if arr.ndim != 2:
        hint = (
            " A 1-D array looks like a single sample: reshape it with x.reshape(1, -1)."
            if arr.ndim == 1
            else ""
        )
        raise ValueError(
            f"{name} must be a 2-D array of shape (N, {what}), one row per sample, "
            f"got shape {arr.shape}.{hint}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one row")
    if arr.shape[1] < min_cols:
        raise ValueError(
            f"{name} has {arr.shape[1]} column(s); a classifier's output needs at "
            f"least {min_cols} classes"
        )
    if not np.isfinite(arr).all():
        raise ValueError(
            f"{name} contains NaN or infinite values; check how it was computed"
        )
    return arr


def check_logits(x, name: str = "logits") -> np.ndarray:
    """A finite (N, C) array of logits with C >= 2."""
    return _matrix(x, name, "C", 2)


def check_logits_tensor(x, name: str = "logits"):
    """A finite (N, C) floating torch tensor of logits, C >= 2, on the input's device.

    A tensor is checked where it lives (no copy to the CPU); anything else is checked
    with :func:`check_logits` and converted. Integer input becomes float64.
    """
    import torch  # here, so that this module imports without torch

    if not isinstance(x, torch.Tensor):
        t = torch.as_tensor(check_logits(x, name))
    else:
        t = x.detach()
        if t.dim() != 2:
            hint = (
                " A 1-D array looks like a single sample or one score per sample: pass "
                "a batch of logits of shape (N, C), e.g. logits.reshape(1, -1)."
                if t.dim() == 1
                else ""
            )
            raise ValueError(
                f"{name} must be a 2-D array of shape (N, C), one row per sample, "
                f"got shape {tuple(t.shape)}.{hint}"
            )
        if t.shape[0] == 0:
            raise ValueError(f"{name} is empty (0 rows); pass at least one sample")
        if t.shape[1] < 2:
            raise ValueError(
                f"{name} has {t.shape[1]} column(s); a classifier's output needs at "
                "least 2 classes"
            )
        if not torch.isfinite(t).all():
            raise ValueError(
                f"{name} contains NaN or infinite values; check how it was computed"
            )
    return t if t.is_floating_point() else t.to(torch.float64)


def check_features(x, name: str = "features") -> np.ndarray:
    """A finite (N, D) feature array; float32 is kept, anything else becomes float64."""
    arr = _matrix(x, name, "D", 1)
    return arr if arr.dtype == np.float32 else arr.astype(np.float64)


def check_probabilities(x, name: str = "probs") -> np.ndarray:
    """A finite (N, C) array whose rows are probability vectors.

    Each row sums to 1 within :data:`PROB_TOL`.
    """
    p = _matrix(x, name, "C", 2)
    if not np.issubdtype(p.dtype, np.floating):
        p = p.astype(np.float64)
    sums = p.sum(axis=1, dtype=np.float64)
    if (p < 0).any() or (p > 1 + PROB_TOL).any() or np.abs(sums - 1).max() > PROB_TOL:
        raise ValueError(
            f"the rows of {name} are not probability vectors (row sums range from "
            f"{sums.min():.3g} to {sums.max():.3g}, entries from {p.min():.3g} to "
            f"{p.max():.3g}); if these are logits, apply a softmax first, e.g. "
            "torch.softmax(logits, dim=1) or scipy.special.softmax(logits, axis=1)"
        )
    return p


def check_positive_int(value, name: str) -> int:
    """``value`` as an ``int`` > 0; NumPy integers pass, ``bool`` and floats do not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(
            f"{name} must be a positive whole number, got {value!r} "
            f"({type(value).__name__}); pass e.g. {name}=10"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value}")
    return int(value)


def check_confidence(value, name: str = "confidence") -> float:
    """``value`` as a float strictly between 0 and 1: the coverage of an interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(
            f"{name} must be a number between 0 and 1 (e.g. 0.95), got {value!r} "
            f"({type(value).__name__})"
        )
    if not 0.0 < float(value) < 1.0:
        raise ValueError(
            f"{name} must be between 0 and 1 (e.g. 0.95 for a 95 % interval), "
            f"got {value!r}"
        )
    return float(value)


def check_group_labels(x, name: str = "protected") -> np.ndarray:
    """A 1-D array of group labels with no missing value (None, NaN, pd.NA)."""
    if isinstance(x, (list, tuple)):
        x = pd.Series(x, dtype=object if any(isinstance(v, str) for v in x) else None)
    arr = as_1d(x, name)
    missing = pd.isna(arr)
    if missing.any():
        where = np.flatnonzero(missing)[:5].tolist()
        raise ValueError(
            f"{name} has {int(missing.sum())} missing group label(s) (None or NaN), "
            f"first at position(s) {where}; every sample needs a group. Drop those "
            "rows, or give them an explicit group such as 'unknown'"
        )
    return arr
