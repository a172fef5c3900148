"""The workbook's OOD benchmark: Fashion-MNIST with named near and far OOD sets.

This module is the single definition of the data that the OOD chapters (10, 11, 12)
and the conformal chapter share, and of the set-up they repeat:

* **in-distribution (ID)**: T-shirt/top (class 0) and trouser (class 1);
* **near OOD** (:data:`NEAR_OOD_CLASSES`): the other clothes, pullover, dress, coat
  and shirt. They *resemble* the ID images (a shirt looks like a T-shirt, a dress like
  a long one), which is what "near" means in chapter 09;
* **far OOD** (:data:`FAR_OOD_CLASSES`): shoes and bags, sandal, sneaker, bag and ankle
  boot. No garment worn on the body looks like them.

Together the two sets hold every Fashion-MNIST class that is not ID. All OOD images
come from the *test* split, so no model of the workbook has seen them.

Helpers:

* :func:`load_ood_benchmark` loads the ID train/test images and both OOD sets;
* :func:`pixel_logistic_regression` and :func:`pixel_logits`: the chapters' linear
  baseline (a logistic regression on the pixels, refitted in each chapter) and its
  two-column logits;
* :func:`cnn_features_and_logits`: penultimate features and logits through the
  last (linear) layer, in one pass per image set;
* :func:`bootstrap_auroc` and :func:`auroc_difference`: bootstrap intervals, so a
  chapter can say "the same within noise" and give the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustworthy_lib._bootstrap import percentile_interval, resample_indices

__all__ = [
    "FAR_OOD_CLASSES",
    "ID_CLASSES",
    "NEAR_OOD_CLASSES",
    "OOD_SET_NAMES",
    "OODBenchmark",
    "auroc_difference",
    "bootstrap_auroc",
    "cnn_features_and_logits",
    "load_ood_benchmark",
    "pixel_logistic_regression",
    "pixel_logits",
]

#: The in-distribution classes: T-shirt/top and trouser.
ID_CLASSES = (0, 1)
#: Near OOD: clothes that resemble the ID classes (pullover, dress, coat, shirt).
NEAR_OOD_CLASSES = (2, 3, 4, 6)
#: Far OOD: shoes and bags (sandal, sneaker, bag, ankle boot).
FAR_OOD_CLASSES = (5, 7, 8, 9)
#: Column labels for tables: what each OOD set is.
OOD_SET_NAMES = {
    "near": "near OOD (other clothes)",
    "far": "far OOD (shoes and bags)",
}


@dataclass(frozen=True)
class OODBenchmark:
    """Images scaled to [0, 1], float32 (N, 28, 28); labels are Fashion-MNIST class ids.

    ``x_train``/``y_train`` and ``x_test``/``y_test`` are the ID images (train and
    test splits); ``x_near``/``y_near`` and ``x_far``/``y_far`` the test images of the
    near and far OOD classes.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_near: np.ndarray
    y_near: np.ndarray
    x_far: np.ndarray
    y_far: np.ndarray

    def test_images(self) -> dict[str, np.ndarray]:
        """The three evaluation sets, ``{"ID": ..., "near": ..., "far": ...}``."""
        return {"ID": self.x_test, "near": self.x_near, "far": self.x_far}


def load_ood_benchmark(source=None) -> OODBenchmark:
    """Load the benchmark: ID T-shirts and trousers, near and far OOD test images.

    ``source`` is passed to :func:`trustworthy_lib.data.load_fashion_mnist` (``None``:
    the shipped, checksummed data pack).
    """
    from trustworthy_lib.data import load_fashion_mnist

    near = load_fashion_mnist(ID_CLASSES, NEAR_OOD_CLASSES, source=source)
    far = load_fashion_mnist(ID_CLASSES, FAR_OOD_CLASSES, source=source)
    return OODBenchmark(
        x_train=near.x_train,
        y_train=near.y_train,
        x_test=near.x_test,
        y_test=near.y_test,
        x_near=near.x_ood,
        y_near=near.y_ood,
        x_far=far.x_ood,
        y_far=far.y_ood,
    )


def _flat(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim < 2:
        raise ValueError(
            f"expected images of shape (N, 28, 28) or (N, 784), got shape {x.shape}"
        )
    return x.reshape(len(x), -1)


def pixel_logistic_regression(bench: OODBenchmark, max_iter: int = 1000):
    """Fit the chapters' linear baseline: logistic regression on the ID training pixels.

    Returns a fitted :class:`sklearn.linear_model.LogisticRegression` whose classes are
    the ID class ids (0 = T-shirt/top, 1 = trouser).
    """
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=max_iter)
    return clf.fit(_flat(bench.x_train), bench.y_train)


def pixel_logits(clf, images) -> np.ndarray:
    """Two-column logits ``(0, z)`` of a binary pixel classifier, shape (N, 2).

    ``z`` is ``clf.decision_function`` of the flattened images; the softmax of
    ``(0, z)`` equals ``clf.predict_proba`` (see
    :func:`trustworthy_lib.ood.binary_logits`).
    """
    from trustworthy_lib.ood import binary_logits

    return binary_logits(clf.decision_function(_flat(images)))


def cnn_features_and_logits(model, images: dict) -> tuple[dict, dict]:
    """Penultimate features and logits of ``model`` for each named image set.

    ``model`` needs ``.features(x)`` and a linear last layer ``.head`` (as
    :class:`trustworthy_lib.models.SmallCNN`), so the logits are the head applied to the
    features and one pass through the network gives both. Returns two dicts keyed like
    ``images``: float32 features (N, D) and float32 logits (N, C).
    """
    import torch

    from trustworthy_lib.models import extract_features

    if not hasattr(model, "head"):
        raise TypeError(
            f"{type(model).__name__} has no .head layer; pass a model whose last layer "
            "is .head, such as workbook_cnn()'s SmallCNN"
        )
    device = next(model.parameters()).device
    features, logits = {}, {}
    model.eval()
    for name, x in images.items():
        z = extract_features(model, x)
        with torch.no_grad():
            out = model.head(torch.from_numpy(z).to(device))
        features[name] = z
        logits[name] = out.float().cpu().numpy()
    return features, logits


# ---------------------------------------------------------------------------
# Bootstrap intervals for AUROC (OOD positive)


def _scores(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array of scores, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _weighted_auroc(id_s, ood_s, w_id, w_ood) -> np.ndarray:
    """AUROC (OOD positive, ties 1/2) for each row of the weights (B, N_id), (B, N_ood).

    ``sum_j w_ood[j] * (#ID below s_j + #ID tied / 2)``, normalised by the total
    weights: one sort of the ID scores and one cumulative sum, no loop over samples.
    """
    order = np.argsort(id_s, kind="mergesort")
    sorted_id = id_s[order]
    cum = np.concatenate(
        [np.zeros((len(w_id), 1)), np.cumsum(w_id[:, order], axis=1)], axis=1
    )
    lo = np.searchsorted(sorted_id, ood_s, side="left")
    hi = np.searchsorted(sorted_id, ood_s, side="right")
    below = cum[:, lo]
    tied = cum[:, hi] - below
    wins = np.sum(w_ood * (below + 0.5 * tied), axis=1)
    return wins / (w_id.sum(axis=1) * w_ood.sum(axis=1))


def _resample_counts(rng, n: int, n_boot: int) -> np.ndarray:
    """How often each of n items is drawn in each of n_boot resamples of size n."""
    idx = resample_indices(n, n_boot, rng)
    offsets = np.arange(n_boot)[:, None] * n
    return np.bincount((idx + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n)


def _check_boot(n_boot, level):
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 10:
        raise ValueError(f"n_boot must be an integer of at least 10, got {n_boot!r}")
    if not 0 < level < 1:
        raise ValueError(
            f"level must be a fraction in (0, 1) such as 0.95, got {level!r}"
        )


def bootstrap_auroc(
    id_scores, ood_scores, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, float]:
    """AUROC (OOD positive) with a percentile bootstrap interval.

    The ID and the OOD samples are resampled separately, with replacement, ``n_boot``
    times. Returns ``{"auroc", "low", "high"}``: the AUROC on the data and the
    ``level`` percentile interval of the resampled AUROCs.
    """
    _check_boot(n_boot, level)
    id_s, ood_s = _scores(id_scores, "id_scores"), _scores(ood_scores, "ood_scores")
    rng = np.random.default_rng(seed)
    w_id = _resample_counts(rng, len(id_s), n_boot)
    w_ood = _resample_counts(rng, len(ood_s), n_boot)
    boot = _weighted_auroc(id_s, ood_s, w_id, w_ood)
    ones = _weighted_auroc(
        id_s, ood_s, np.ones((1, len(id_s))), np.ones((1, len(ood_s)))
    )
    low, high, _ = percentile_interval(boot, level)
    return {"auroc": float(ones[0]), "low": float(low), "high": float(high)}


def auroc_difference(
    a: tuple, b: tuple, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, float]:
    """AUROC of detector ``a`` minus that of ``b``, with a paired bootstrap interval.

    ``a`` and ``b`` are ``(id_scores, ood_scores)`` of two detectors **on the same
    images** (row i of a's ID scores and of b's belong to the same image). Each
    resample draws images, and both detectors are scored on the same draw, so the
    interval measures how much the difference depends on which test images we
    happened to have. Returns ``{"difference", "low", "high", "verdict"}``;
    ``verdict`` is ``"higher"`` or ``"lower"`` when the interval excludes 0, and
    ``"the same within noise"`` when it contains 0.
    """
    _check_boot(n_boot, level)
    id_a, ood_a = _scores(a[0], "a's id_scores"), _scores(a[1], "a's ood_scores")
    id_b, ood_b = _scores(b[0], "b's id_scores"), _scores(b[1], "b's ood_scores")
    if id_a.shape != id_b.shape or ood_a.shape != ood_b.shape:
        raise ValueError(
            "a and b must score the same images: got ID sizes "
            f"{len(id_a)} and {len(id_b)}, OOD sizes {len(ood_a)} and {len(ood_b)}"
        )
    rng = np.random.default_rng(seed)
    w_id = _resample_counts(rng, len(id_a), n_boot)
    w_ood = _resample_counts(rng, len(ood_a), n_boot)
    boot = _weighted_auroc(id_a, ood_a, w_id, w_ood) - _weighted_auroc(
        id_b, ood_b, w_id, w_ood
    )
    one_id, one_ood = np.ones((1, len(id_a))), np.ones((1, len(ood_a)))
    diff = float(
        _weighted_auroc(id_a, ood_a, one_id, one_ood)[0]
        - _weighted_auroc(id_b, ood_b, one_id, one_ood)[0]
    )
    low, high, _ = percentile_interval(boot, level)
    if low > 0:
        verdict = "higher"
    elif high < 0:
        verdict = "lower"
    else:
        verdict = "the same within noise"
    return {"difference": diff, "low": low, "high": high, "verdict": verdict}
