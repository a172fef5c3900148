"""Out-of-distribution (OOD) scores and detectors (torch); the metrics are in
:mod:`trustworthy_lib.ood_evaluation`, which needs only NumPy.

**The convention, stated once and held by every function here: an OOD score is
LARGER for outliers.** A detector flags an input as OOD when its score is above a
threshold, and accepts it as in-distribution (ID) when the score is at or below it.
Scores that papers define as ID confidences (the maximum softmax probability, the
maximum logit, the negative energy) are negated to follow this convention, as
pytorch-ood does.

Three families, one idea each:

* output-based scores computed from logits alone, with no model:
  :func:`msp_score`, :func:`energy_score`, :func:`max_logit_score` (and
  :func:`binary_logits` for a binary linear model's single logit);
* distance-based detectors fitted on ID features: :class:`Mahalanobis`, :class:`KNN`;
* evaluation lives in :mod:`trustworthy_lib.ood_evaluation` (AUROC, AUPR, FPR at 95%
  TPR, the three-way threshold sweep, the detector table), which imports without torch.

Every function accepts NumPy arrays (and the logit scores also torch tensors, on
any device), checks its input, and is vectorised: there is no Python loop over samples.
"""

from __future__ import annotations

import numpy as np
import torch

from trustworthy_lib._validation import (
    NotFittedError,
    check_features,
    check_logits_tensor,
    check_scores,
)

__all__ = [
    "KNN",
    "Mahalanobis",
    "binary_logits",
    "energy_score",
    "max_logit_score",
    "msp_score",
]


# ---------------------------------------------------------------------------
# Input checks


def _like_input(scores: torch.Tensor, original):
    """Return ``scores`` as a tensor if the input was one, else as a NumPy array."""
    return scores if isinstance(original, torch.Tensor) else scores.cpu().numpy()


def _check_temperature(temperature) -> float:
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    return t


# ---------------------------------------------------------------------------
# Output-based scores (logits only, no model)


def msp_score(logits, temperature: float = 1.0):
    r"""Maximum softmax probability (MSP) score, negated so that outliers score higher.

    .. math:: s(x) = -\max_k \operatorname{softmax}(f(x)/T)_k

    Hendrycks & Gimpel (2017), *A Baseline for Detecting Misclassified and
    Out-of-Distribution Examples in Neural Networks*. Scores lie in [-1, -1/C].

    Parameters
    ----------
    logits:
        Array or tensor of shape (N, C).
    temperature:
        The softmax temperature :math:`T > 0` (1 is the plain softmax).

    Returns
    -------
    One score per row: a NumPy array, or a tensor on the input's device if ``logits``
    is a tensor.
    """
    t = check_logits_tensor(logits)
    temp = _check_temperature(temperature)
    return _like_input(-torch.softmax(t / temp, dim=1).amax(dim=1), logits)


def energy_score(logits, temperature: float = 1.0):
    r"""Energy score: the free energy of the logits, larger for outliers.

    .. math:: E(x) = -T \log \sum_k e^{f_k(x)/T}

    Liu et al. (2020), *Energy-based Out-of-distribution Detection*. The paper uses
    :math:`-E(x)` as an ID confidence; the energy itself is the OOD score. Computed with
    ``logsumexp``, so large logits do not overflow.

    Parameters and return value as in :func:`msp_score`.
    """
    t = check_logits_tensor(logits)
    temp = _check_temperature(temperature)
    return _like_input(-temp * torch.logsumexp(t / temp, dim=1), logits)


def max_logit_score(logits):
    r"""Maximum-logit score, negated so that outliers score higher.

    .. math:: s(x) = -\max_k f_k(x)

    Hendrycks et al. (2022), *Scaling Out-of-Distribution Detection for Real-World
    Settings*. Parameters and return value as in :func:`msp_score`.
    """
    t = check_logits_tensor(logits)
    return _like_input(-t.amax(dim=1), logits)


def binary_logits(decision):
    r"""Two-column logits ``(0, z)`` from a binary classifier's decision values ``z``.

    ``z`` has shape (N,).

    A binary logistic regression has one logit :math:`z = w^\top x + b` (sklearn's
    ``decision_function``). The softmax of :math:`(0, z)` is
    :math:`(1 - \sigma(z), \sigma(z))`, its ``predict_proba``, so these logits can go to
    any logit score here. Unlike ``log(predict_proba)``, they stay finite when a
    probability rounds to 0 or 1. Returns a float64 array (N, 2).
    """
    z = check_scores(decision, "decision")
    return np.column_stack([np.zeros_like(z), z])


# ---------------------------------------------------------------------------
# Distance-based detectors


def _features_to_score(detector, fitted: bool, features, how: str) -> np.ndarray:
    """Checked features for a fitted distance detector, of its fitted dimension."""
    if not fitted:
        raise NotFittedError(
            f"this {type(detector).__name__} detector is not fitted yet: call {how} "
            "first"
        )
    x = check_features(features)
    if x.shape[1] != detector.n_features_in_:
        raise ValueError(
            f"features have {x.shape[1]} dimensions but the detector was fitted on "
            f"{detector.n_features_in_}; score features from the same layer of the "
            "same model"
        )
    return x


class Mahalanobis:
    r"""Mahalanobis-distance detector on features (Lee et al., 2018).

    Fits one mean per class and one covariance matrix :math:`\Sigma` shared by all
    classes (a *tied* covariance, pooled from the class-centred features), and scores
    a feature vector :math:`z` by its Mahalanobis distance to the closest class mean:

    .. math:: s(z) = \min_k \sqrt{(z - \mu_k)^\top \Sigma^{-1} (z - \mu_k)}

    Lee, Lee, Lee & Shin (2018), *A Simple Unified Framework for Detecting
    Out-of-Distribution Samples and Adversarial Attacks*. Larger is more OOD.

    Parameters
    ----------
    class_conditional:
        ``True`` (default): one mean per class, as in Lee et al. ``False``: a single
        Gaussian for all ID data (one mean, the covariance of all features), as in the
        lesson; ``labels`` are then ignored.
    covariance:
        ``"ledoit-wolf"`` (default): the Ledoit & Wolf (2004) shrinkage estimate
        :math:`(1-\alpha) S + \alpha \frac{\operatorname{tr} S}{D} I`, well conditioned
        even when features are collinear or dead (always-zero ReLU units). It equals
        ``sklearn.covariance.ledoit_wolf`` on the centred features.
        ``"empirical"``: the maximum-likelihood estimate :math:`S` (divided by N, like
        ``sklearn.covariance.EmpiricalCovariance`` in Lee et al.'s code). A singular
        :math:`S` is pseudo-inverted: directions with zero variance are ignored.

    Attributes (after :meth:`fit`)
    ------------------------------
    classes_ : the class ids (``[0]`` for the single Gaussian)
    means_ : (K, D) class means
    covariance_ : (D, D) the shared covariance
    precision_ : (D, D) its (pseudo-)inverse
    shrinkage_ : the Ledoit-Wolf shrinkage :math:`\alpha` (0 for ``"empirical"``)

    Float32 features are processed in float32 (as pytorch-ood and sklearn do), anything
    else in float64; the small (D, D) algebra is always float64. :meth:`score` whitens
    the features with one matrix product for all classes
    (:math:`W W^\top = \Sigma^{-1}`), so its cost hardly grows with the number of
    classes. Scores are returned as float64.

    Notes
    -----
    pytorch-ood's ``Mahalanobis`` returns :math:`\tfrac12 \min_k d_k^\top (NS + 10^{-6}
    I)^{-1} d_k`, the halved squared distance with an undivided scatter matrix. On
    full-rank features its scores equal ``score(z) ** 2 / (2 N)`` of the
    ``covariance="empirical"`` detector here: the same ranking, so the same AUROC.
    """

    _COVARIANCES = ("ledoit-wolf", "empirical")

    def __init__(self, class_conditional: bool = True, covariance: str = "ledoit-wolf"):
        if covariance not in self._COVARIANCES:
            raise ValueError(
                f"unknown covariance {covariance!r}; use one of "
                f"{', '.join(self._COVARIANCES)}"
            )
        self.class_conditional = bool(class_conditional)
        self.covariance = covariance
        self.means_ = None

    def __repr__(self) -> str:
        return (
            f"Mahalanobis(class_conditional={self.class_conditional}, "
            f"covariance={self.covariance!r})"
        )

    def fit(self, features, labels=None) -> Mahalanobis:
        """Estimate the class means and shared covariance from ID ``features`` (N, D).

        ``labels`` (N,) are the ID class ids; required when ``class_conditional=True``.
        Returns the fitted detector.
        """
        x = torch.as_tensor(check_features(features))
        n, d = x.shape
        if self.class_conditional:
            if labels is None:
                raise ValueError(
                    "class_conditional=True needs the ID class labels: call "
                    "fit(features, labels), or use "
                    "Mahalanobis(class_conditional=False) for a single Gaussian"
                )
            y = np.asarray(
                labels.detach().cpu().numpy()
                if isinstance(labels, torch.Tensor)
                else labels
            )
            if y.ndim != 1 or len(y) != n:
                raise ValueError(
                    "labels must be 1-D with one label per feature row: got "
                    f"{len(y) if y.ndim else 'a scalar'} label(s) of shape {y.shape} "
                    f"for {n} feature rows"
                )
            if not np.issubdtype(y.dtype, np.integer):
                if (
                    np.issubdtype(y.dtype, np.floating)
                    and np.isfinite(y).all()
                    and (y == np.round(y)).all()
                ):
                    y = y.astype(np.int64)
                else:
                    raise ValueError(
                        f"labels must be integer class ids, got dtype {y.dtype}"
                    )
            classes, inverse = np.unique(y, return_inverse=True)
        else:
            classes, inverse = np.array([0]), np.zeros(n, dtype=np.int64)
        if n < 2:
            raise ValueError(
                f"fit needs at least 2 feature rows to estimate a covariance, got {n}"
            )
        idx = torch.as_tensor(inverse.reshape(-1), dtype=torch.long)
        k = len(classes)
        onehot = torch.zeros(k, n, dtype=x.dtype)
        onehot[idx, torch.arange(n)] = 1.0
        means = (onehot @ x) / onehot.sum(
            1, keepdim=True
        )  # (K, D), one product for all classes
        centred = x - means[idx]
        emp = (
            (centred.T @ centred) / n
        ).double()  # the pooled (tied) maximum-likelihood covariance
        means = means.double()
        if self.covariance == "ledoit-wolf":
            cov, shrinkage = _ledoit_wolf(centred, emp)
        else:
            cov, shrinkage = emp, 0.0
        cov = (cov + cov.T) / 2
        evals, evecs = _small_eigh(cov)
        # Eigenvalues below round-off count as zero (as scipy's pinvh). For the
        # empirical covariance that is the round-off of the input precision. The
        # Ledoit-Wolf shrinkage adds alpha * mu to every eigenvalue exactly, in float64:
        # a dead unit's tiny shrunk variance is real, not round-off, and must be kept
        # even for float32 features.
        eps = torch.finfo(torch.float64 if shrinkage > 0 else x.dtype).eps
        cutoff = evals.abs().max() * d * eps
        keep = evals > cutoff
        if not keep.any():
            raise ValueError(
                "the features have zero variance in every direction; the covariance "
                "cannot be inverted"
            )
        whiten = (
            evecs[:, keep] / evals[keep].sqrt()
        )  # (D, r): (z - m) @ W has identity covariance
        self.classes_ = classes
        self.means_ = means.numpy()
        self.covariance_ = cov.numpy()
        self.precision_ = (whiten @ whiten.T).numpy()
        self.shrinkage_ = float(shrinkage)
        self.n_features_in_ = d
        # Score relative to the mean of the class means, so that whitened values stay of
        # the order of the distances themselves (no cancellation in float32).
        self._origin = means.mean(0)
        self._whiten = whiten
        self._centres = (means - self._origin) @ whiten  # (K, r)
        return self

    def score(self, features) -> np.ndarray:
        """Each row's Mahalanobis distance to its closest class mean (larger = OOD)."""
        x = _features_to_score(
            self, self.means_ is not None, features, "fit(id_features, labels)"
        )
        dtype = torch.float32 if x.dtype == np.float32 else torch.float64
        origin, whiten, centres = (
            t.to(dtype) for t in (self._origin, self._whiten, self._centres)
        )
        w = (
            torch.as_tensor(x) - origin
        ) @ whiten  # (N, r): one matrix product for all classes
        out = torch.empty(len(w), dtype=dtype)
        step = max(1, 2**22 // (len(centres) * w.shape[1]))
        for start in range(
            0, len(w), step
        ):  # blocks of rows bound the (rows, K, r) memory
            diff = w[start : start + step, None, :] - centres[None]
            out[start : start + step] = (diff * diff).sum(2).amin(1)
        return out.sqrt_().double().numpy()


def _small_eigh(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition of a small symmetric (D, D) matrix, on one BLAS thread.

    For D of a few hundred, extra threads only add synchronisation; on a busy machine
    they can make this 100x slower. The thread limit is lifted on return.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        evals, evecs = np.linalg.eigh(matrix.cpu().numpy())
    return torch.from_numpy(evals), torch.from_numpy(evecs)


def _ledoit_wolf(
    centred: torch.Tensor, emp: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """Ledoit-Wolf shrunk covariance of centred data, as sklearn's ``ledoit_wolf``.

    The shrinkage is ``min(beta, delta) / delta`` with
    ``delta = ||S - mu I||_F^2 / D`` and
    ``beta = (sum_n ||x_n||^4 / N - ||S||_F^2) / (D N)`` (Ledoit & Wolf, 2004), computed
    without any (N, D, D) intermediate: sum_ij (X^2)^T X^2 equals sum_n ||x_n||^4.
    """
    n, d = centred.shape
    mu = torch.trace(emp) / d
    row_sq = (centred * centred).sum(1).double()
    beta_ = (row_sq * row_sq).sum()
    delta_ = (emp * emp).sum()
    beta = (beta_ / n - delta_) / (d * n)
    delta = (delta_ - 2 * mu * torch.trace(emp) + d * mu**2) / d
    beta = torch.minimum(beta, delta)
    shrinkage = 0.0 if float(beta) == 0 else float(beta / delta)
    shrunk = (1 - shrinkage) * emp + shrinkage * mu * torch.eye(d, dtype=emp.dtype)
    return shrunk, shrinkage


class KNN:
    r"""Deep nearest-neighbour detector (Sun, Ming, Zhu & Li, 2022).

    Stores the (L2-normalised) ID training features; the score of a feature vector is
    its Euclidean distance to the :math:`k`-th nearest stored feature:

    .. math::

        s(z) = \lVert \hat z - \hat z_{(k)} \rVert_2, \qquad
        \hat z = z / \lVert z \rVert_2

    Sun et al. (2022), *Out-of-Distribution Detection with Deep Nearest Neighbors*.
    Larger is more OOD. Distances are computed exactly, in blocks of ``batch_size``
    query rows with one matrix product each (no approximate index), on
    :func:`trustworthy_lib.get_device`'s device. Float32 features are compared in
    float32, anything else in float64.

    Parameters
    ----------
    k:
        Which neighbour's distance is the score (the paper uses 50 for CIFAR-10).
    normalize:
        Normalise every feature vector to unit length first (the paper's choice;
        all-zero vectors are left at zero).
    batch_size:
        Query rows per block; lower it if memory is short.
    """

    def __init__(self, k: int = 50, normalize: bool = True, batch_size: int = 1024):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(
                f"batch_size must be a positive integer, got {batch_size!r}"
            )
        self.k = int(k)
        self.normalize = bool(normalize)
        self.batch_size = int(batch_size)
        self._bank = None

    def __repr__(self) -> str:
        return f"KNN(k={self.k}, normalize={self.normalize})"

    def _prepare(self, x: np.ndarray, device) -> torch.Tensor:
        t = torch.as_tensor(x, device=device)
        if self.normalize:
            t = t / t.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return t

    def fit(self, features) -> KNN:
        """Store the ID training ``features`` (N, D); N must be at least ``k``."""
        from trustworthy_lib.utils import get_device

        x = check_features(features)
        if self.k > len(x):
            raise ValueError(
                f"k={self.k} is larger than the {len(x)} training feature rows; "
                f"use k <= {len(x)} or fit on more ID data"
            )
        self._device = get_device()
        self._bank = self._prepare(x, self._device)
        self._bank_sq = (self._bank * self._bank).sum(1)
        self.n_features_in_ = x.shape[1]
        return self

    def score(self, features) -> np.ndarray:
        """Each row's distance to its k-th nearest training feature (larger = OOD)."""
        x = _features_to_score(
            self, self._bank is not None, features, "fit(id_features)"
        )
        dtype = (
            torch.float32
            if (x.dtype == np.float32 and self._bank.dtype == torch.float32)
            else torch.float64
        )
        bank, bank_sq = self._bank.to(dtype), self._bank_sq.to(dtype)
        out = []
        for start in range(
            0, len(x), self.batch_size
        ):  # blocks of queries, not samples
            q = self._prepare(x[start : start + self.batch_size], self._device).to(
                dtype
            )
            sq = (q * q).sum(1, keepdim=True) - 2 * q @ bank.T + bank_sq
            # the k-th smallest is the largest of the k smallest (topk beats kthvalue)
            kth = torch.topk(
                sq, self.k, dim=1, largest=False, sorted=False
            ).values.amax(dim=1)
            out.append(kth.clamp_min_(0).sqrt_())
        return torch.cat(out).double().cpu().numpy()
