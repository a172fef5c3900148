"""Out-of-distribution (OOD) scores, detectors and metrics.

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
* evaluation: :func:`ood_metrics` (AUROC, AUPR, FPR at 95% TPR), :func:`threshold_at_tpr`,
  :func:`ood_confusion_matrix` and :func:`threshold_sweep` for the three-way
  (each ID class and OOD) view of a chosen threshold, and :func:`detector_table`;
* a cached 2-D view of features: :func:`umap_embedding`.

Every function accepts NumPy arrays (and the logit scores also torch tensors, on
any device), checks its input, and is vectorised: there is no Python loop over samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from trustworthy_lib._cache import cached_array

#: Label that marks an OOD sample in ``y_true`` and an OOD decision in predictions.
OOD_LABEL = -1

__all__ = [
    "OOD_LABEL",
    "METRIC_NAMES",
    "KNN",
    "Mahalanobis",
    "binary_logits",
    "detector_table",
    "energy_score",
    "max_logit_score",
    "msp_score",
    "ood_confusion_matrix",
    "ood_metrics",
    "threshold_at_tpr",
    "threshold_sweep",
    "umap_embedding",
]


# ---------------------------------------------------------------------------
# Input checks


def _check_logits(logits, name: str = "logits") -> torch.Tensor:
    """Return ``logits`` as a floating torch tensor of shape (N, C), or raise ValueError."""
    if isinstance(logits, torch.Tensor):
        t = logits.detach()
    else:
        arr = np.asarray(logits)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
        t = torch.as_tensor(arr)
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if t.dim() != 2:
        hint = (
            " A 1-D array looks like a single sample or one score per sample: pass a batch "
            "of logits of shape (N, C), e.g. logits.reshape(1, -1) for one sample."
            if t.dim() == 1
            else ""
        )
        raise ValueError(f"{name} must have shape (N, C) with one row per sample, got shape {tuple(t.shape)}.{hint}")
    if t.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 rows); pass at least one sample")
    if t.shape[1] < 2:
        raise ValueError(f"{name} has {t.shape[1]} column(s); a classifier's logits need at least 2 classes")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values; check the model's output")
    return t


def _like_input(scores: torch.Tensor, original):
    """Return ``scores`` as a tensor if the input was a tensor, else as a NumPy array."""
    return scores if isinstance(original, torch.Tensor) else scores.cpu().numpy()


def _check_temperature(temperature) -> float:
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    return t


def _check_scores(scores, name: str) -> np.ndarray:
    """Return ``scores`` as a 1-D float64 array, or raise ValueError."""
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    arr = np.asarray(scores)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one score per sample), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one score")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; check how the scores were computed")
    return arr


def _check_features(features, name: str = "features") -> np.ndarray:
    """Return ``features`` as a 2-D float array (float32 kept, others to float64)."""
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    arr = np.asarray(features)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    if arr.dtype != np.float32:
        arr = arr.astype(np.float64)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (N, D), one feature vector per row, got shape {arr.shape}. "
            "Flatten images first, or use model features (e.g. extract_features)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one sample with at least one feature")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


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
    t = _check_logits(logits)
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
    t = _check_logits(logits)
    temp = _check_temperature(temperature)
    return _like_input(-temp * torch.logsumexp(t / temp, dim=1), logits)


def max_logit_score(logits):
    r"""Maximum-logit score, negated so that outliers score higher.

    .. math:: s(x) = -\max_k f_k(x)

    Hendrycks et al. (2022), *Scaling Out-of-Distribution Detection for Real-World
    Settings*. Parameters and return value as in :func:`msp_score`.
    """
    t = _check_logits(logits)
    return _like_input(-t.amax(dim=1), logits)


def binary_logits(decision):
    r"""Two-column logits ``(0, z)`` from a binary classifier's decision values ``z``, shape (N,).

    A binary logistic regression has one logit :math:`z = w^\top x + b` (sklearn's
    ``decision_function``). The softmax of :math:`(0, z)` is
    :math:`(1 - \sigma(z), \sigma(z))`, its ``predict_proba``, so these logits can go to
    any logit score here. Unlike ``log(predict_proba)``, they stay finite when a
    probability rounds to 0 or 1. Returns a float64 array (N, 2).
    """
    z = _check_scores(decision, "decision")
    return np.column_stack([np.zeros_like(z), z])


# ---------------------------------------------------------------------------
# Distance-based detectors


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
    the features with one matrix product for all classes (:math:`W W^\top = \Sigma^{-1}`),
    so its cost hardly grows with the number of classes. Scores are returned as float64.

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
            raise ValueError(f"unknown covariance {covariance!r}; use one of {', '.join(self._COVARIANCES)}")
        self.class_conditional = bool(class_conditional)
        self.covariance = covariance
        self.means_ = None

    def __repr__(self) -> str:
        return f"Mahalanobis(class_conditional={self.class_conditional}, covariance={self.covariance!r})"

    def fit(self, features, labels=None) -> "Mahalanobis":
        """Estimate the class means and the shared covariance from ID ``features`` (N, D).

        ``labels`` (N,) are the ID class ids; required when ``class_conditional=True``.
        Returns the fitted detector.
        """
        x = torch.as_tensor(_check_features(features))
        n, d = x.shape
        if self.class_conditional:
            if labels is None:
                raise ValueError(
                    "class_conditional=True needs the ID class labels: call fit(features, labels), "
                    "or use Mahalanobis(class_conditional=False) for a single Gaussian"
                )
            y = np.asarray(labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels)
            if y.ndim != 1 or len(y) != n:
                raise ValueError(
                    f"labels must be 1-D with one label per feature row: got {len(y) if y.ndim else 'a scalar'} "
                    f"label(s) of shape {y.shape} for {n} feature rows"
                )
            if not np.issubdtype(y.dtype, np.integer):
                if np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and (y == np.round(y)).all():
                    y = y.astype(np.int64)
                else:
                    raise ValueError(f"labels must be integer class ids, got dtype {y.dtype}")
            classes, inverse = np.unique(y, return_inverse=True)
        else:
            classes, inverse = np.array([0]), np.zeros(n, dtype=np.int64)
        if n < 2:
            raise ValueError(f"fit needs at least 2 feature rows to estimate a covariance, got {n}")
        idx = torch.as_tensor(inverse.reshape(-1), dtype=torch.long)
        k = len(classes)
        onehot = torch.zeros(k, n, dtype=x.dtype)
        onehot[idx, torch.arange(n)] = 1.0
        means = (onehot @ x) / onehot.sum(1, keepdim=True)  # (K, D), one product for all classes
        centred = x - means[idx]
        emp = ((centred.T @ centred) / n).double()  # the pooled (tied) maximum-likelihood covariance
        means = means.double()
        if self.covariance == "ledoit-wolf":
            cov, shrinkage = _ledoit_wolf(centred, emp)
        else:
            cov, shrinkage = emp, 0.0
        cov = (cov + cov.T) / 2
        evals, evecs = _small_eigh(cov)
        # Eigenvalues below round-off count as zero (as scipy's pinvh). For the empirical
        # covariance that is the round-off of the input precision. The Ledoit-Wolf shrinkage
        # adds alpha * mu to every eigenvalue exactly, in float64: a dead unit's tiny shrunk
        # variance is real, not round-off, and must be kept even for float32 features.
        eps = torch.finfo(torch.float64 if shrinkage > 0 else x.dtype).eps
        cutoff = evals.abs().max() * d * eps
        keep = evals > cutoff
        if not keep.any():
            raise ValueError("the features have zero variance in every direction; the covariance cannot be inverted")
        whiten = evecs[:, keep] / evals[keep].sqrt()  # (D, r): (z - m) @ W has identity covariance
        self.classes_ = classes
        self.means_ = means.numpy()
        self.covariance_ = cov.numpy()
        self.precision_ = (whiten @ whiten.T).numpy()
        self.shrinkage_ = float(shrinkage)
        self.n_features_in_ = d
        # Score relative to the mean of the class means, so that whitened values stay of the
        # order of the distances themselves (no cancellation in float32).
        self._origin = means.mean(0)
        self._whiten = whiten
        self._centres = (means - self._origin) @ whiten  # (K, r)
        return self

    def score(self, features) -> np.ndarray:
        """Return the Mahalanobis distance of each row to its closest class mean (larger = OOD)."""
        if self.means_ is None:
            raise ValueError("this Mahalanobis detector is not fitted yet: call fit(id_features, labels) first")
        x = _check_features(features)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"features have {x.shape[1]} dimensions but the detector was fitted on {self.n_features_in_}; "
                "score features from the same layer of the same model"
            )
        dtype = torch.float32 if x.dtype == np.float32 else torch.float64
        origin, whiten, centres = (t.to(dtype) for t in (self._origin, self._whiten, self._centres))
        w = (torch.as_tensor(x) - origin) @ whiten  # (N, r): one matrix product for all classes
        out = torch.empty(len(w), dtype=dtype)
        step = max(1, 2**22 // (len(centres) * w.shape[1]))
        for start in range(0, len(w), step):  # blocks of rows bound the (rows, K, r) memory
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


def _ledoit_wolf(centred: torch.Tensor, emp: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Ledoit-Wolf shrunk covariance of already-centred data, as sklearn's ``ledoit_wolf``.

    The shrinkage is ``min(beta, delta) / delta`` with ``delta = ||S - mu I||_F^2 / D`` and
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

    .. math:: s(z) = \lVert \hat z - \hat z_{(k)} \rVert_2, \qquad \hat z = z / \lVert z \rVert_2

    Sun et al. (2022), *Out-of-Distribution Detection with Deep Nearest Neighbors*.
    Larger is more OOD. Distances are computed exactly, in blocks of ``batch_size``
    query rows with one matrix product each (no approximate index), on
    :func:`trustworthy_lib.get_device`'s device. Float32 features are compared in float32,
    anything else in float64.

    Parameters
    ----------
    k:
        Which neighbour's distance is the score (the paper uses 50 for CIFAR-10).
    normalize:
        Normalise every feature vector to unit length first (the paper's choice; all-zero
        vectors are left at zero).
    batch_size:
        Query rows per block; lower it if memory is short.
    """

    def __init__(self, k: int = 50, normalize: bool = True, batch_size: int = 1024):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
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

    def fit(self, features) -> "KNN":
        """Store the ID training ``features`` (N, D); N must be at least ``k``."""
        from trustworthy_lib.utils import get_device

        x = _check_features(features)
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
        """Return the distance of each row to its k-th nearest training feature (larger = OOD)."""
        if self._bank is None:
            raise ValueError("this KNN detector is not fitted yet: call fit(id_features) first")
        x = _check_features(features)
        if x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"features have {x.shape[1]} dimensions but the detector was fitted on {self.n_features_in_}; "
                "score features from the same layer of the same model"
            )
        dtype = torch.float32 if (x.dtype == np.float32 and self._bank.dtype == torch.float32) else torch.float64
        bank, bank_sq = self._bank.to(dtype), self._bank_sq.to(dtype)
        out = []
        for start in range(0, len(x), self.batch_size):  # blocks of queries, not samples
            q = self._prepare(x[start : start + self.batch_size], self._device).to(dtype)
            sq = (q * q).sum(1, keepdim=True) - 2 * q @ bank.T + bank_sq
            # the k-th smallest is the largest of the k smallest (topk is faster than kthvalue)
            kth = torch.topk(sq, self.k, dim=1, largest=False, sorted=False).values.amax(dim=1)
            out.append(kth.clamp_min_(0).sqrt_())
        return torch.cat(out).double().cpu().numpy()


# ---------------------------------------------------------------------------
# Metrics


def _tp_fp_curve(pos: np.ndarray, neg: np.ndarray):
    """Cumulative true and false positives at each distinct score, from the highest down."""
    scores = np.concatenate([pos, neg])
    is_pos = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    order = np.argsort(-scores, kind="mergesort")
    scores, is_pos = scores[order], is_pos[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tp = np.cumsum(is_pos)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return tp, fp


def _average_precision(pos: np.ndarray, neg: np.ndarray) -> float:
    """Average precision with positives scoring high: sum_n (R_n - R_{n-1}) P_n (no interpolation)."""
    tp, fp = _tp_fp_curve(pos, neg)
    precision = tp / (tp + fp)
    recall = tp / len(pos)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def threshold_at_tpr(id_scores, tpr: float = 0.95) -> float:
    """Return the lowest threshold that accepts at least a fraction ``tpr`` of the ID samples.

    A sample is accepted as ID when its score is at or below the threshold, so the
    threshold is the ``ceil(tpr * N)``-th smallest ID score.
    """
    s = np.sort(_check_scores(id_scores, "id_scores"))
    if not 0 < tpr <= 1:
        raise ValueError(f"tpr must be in (0, 1], got {tpr!r}")
    rank = int(np.ceil(tpr * len(s) - 1e-9))
    return float(s[max(rank, 1) - 1])


def fpr_at_tpr(id_scores, ood_scores, tpr: float = 0.95, positive: str = "id") -> float:
    """False positive rate at the threshold where the true positive rate first reaches ``tpr``.

    Scores are **larger for outliers**. Two definitions of "FPR95" are in use, so the
    positive class is an explicit argument:

    * ``positive="id"`` (default; Liang, Li and Srikant 2018, and most OOD papers): take the
      threshold that **keeps** (scores at or below it) at least a fraction ``tpr`` of the ID
      samples (:func:`threshold_at_tpr`); return the fraction of **OOD samples still
      accepted**, the share of outliers that slip through when 95% of good inputs are kept.
      This is :func:`ood_metrics`' ``fpr_at_95_tpr``.
    * ``positive="ood"`` (pytorch-ood's ``FPRAtTPR``): take the largest threshold that flags
      (scores at or above it) at least a fraction ``tpr`` of the OOD samples; return the
      fraction of **ID samples wrongly flagged**, the share of good inputs rejected when 95%
      of the outliers are caught.

    Lower is better in both. They agree only by accident: say which one you report.
    """
    if isinstance(tpr, bool) or not isinstance(tpr, (int, float, np.floating)) or not 0.0 < float(tpr) <= 1.0:
        raise ValueError(f"tpr must be a fraction in (0, 1], such as 0.95; got {tpr!r}")
    if positive not in ("id", "ood"):
        raise ValueError(f"positive must be 'id' (ID samples are the positives) or 'ood', got {positive!r}")
    id_s = _check_scores(id_scores, "id_scores")
    ood_s = _check_scores(ood_scores, "ood_scores")
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
    id_s = _check_scores(id_scores, "id_scores")
    ood_s = _check_scores(ood_scores, "ood_scores")
    tp, fp = _tp_fp_curve(ood_s, id_s)
    tpr = np.r_[0.0, tp / len(ood_s)]
    fpr = np.r_[0.0, fp / len(id_s)]
    auroc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoids; ties give the 1/2
    return {
        "auroc": auroc,
        "aupr_in": _average_precision(-id_s, -ood_s),
        "aupr_out": _average_precision(ood_s, id_s),
        "fpr_at_95_tpr": fpr_at_tpr(id_s, ood_s, 0.95, positive="id"),
    }


# ---------------------------------------------------------------------------
# Thresholds: the three-way view (each ID class, and OOD)


def _check_three_way(y_true, y_pred, scores, n_classes):
    scores = _check_scores(scores, "scores")
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    for name, arr in (("y_true", y_true), ("y_pred", y_pred)):
        if arr.ndim != 1 or len(arr) != len(scores):
            raise ValueError(
                f"{name} must be 1-D with one entry per score: got shape {arr.shape} for {len(scores)} scores"
            )
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold integer class ids (and {OOD_LABEL} for OOD), got dtype {arr.dtype}")
    if n_classes is None:
        n_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    if n_classes < 1:
        raise ValueError("no ID class found: y_true and y_pred hold only OOD labels; pass n_classes")
    bad_true = np.setdiff1d(np.unique(y_true), np.r_[OOD_LABEL, np.arange(n_classes)])
    if bad_true.size:
        raise ValueError(
            f"y_true contains unknown label(s) {bad_true.tolist()}: use ID class ids 0..{n_classes - 1} "
            f"(encode_labels maps original ids) and {OOD_LABEL} for OOD samples"
        )
    bad_pred = np.setdiff1d(np.unique(y_pred), np.arange(n_classes))
    if bad_pred.size:
        raise ValueError(
            f"y_pred contains label(s) {bad_pred.tolist()} outside the ID classes 0..{n_classes - 1}; "
            "pass the classifier's predicted ID class (e.g. logits.argmax(1)), the threshold adds the OOD decision"
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
    cum = np.vstack([np.zeros((1, onehot.shape[1]), dtype=np.int64), np.cumsum(onehot, axis=0)])
    accepted = cum[np.searchsorted(scores[order], thresholds, side="right")]  # score <= threshold: kept as ID
    total = cum[-1]
    accepted = accepted.reshape(len(thresholds), k + 1, k)
    flagged = (total.reshape(k + 1, k) - accepted).sum(axis=2)  # score > threshold: predicted OOD
    return np.concatenate([accepted, flagged[:, :, None]], axis=2)


def ood_confusion_matrix(y_true, y_pred, scores, threshold: float, n_classes: int | None = None) -> np.ndarray:
    """Three-way confusion matrix: each ID class, plus OOD, at one score threshold.

    A sample is predicted OOD when its score is above ``threshold``; otherwise it keeps
    the classifier's predicted class ``y_pred``.

    Parameters
    ----------
    y_true:
        True labels: ID class ids ``0..K-1``, and :data:`OOD_LABEL` (-1) for OOD samples.
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


def threshold_sweep(y_true, y_pred, scores, thresholds=None, n_classes: int | None = None):
    """Precision, recall and F1 at many thresholds at once, in the three-way setting.

    For every threshold the samples with ``score > threshold`` are predicted OOD and the
    rest keep the classifier's class (see :func:`ood_confusion_matrix`). All confusion
    matrices come from one sort and one cumulative count, with no loop over thresholds.

    Columns of the returned :class:`pandas.DataFrame`, one row per threshold:

    * ``precision``, ``recall``, ``f1``: macro averages over the **ID classes**, with OOD
      samples and OOD decisions counted (an OOD sample kept as class c is a false
      positive of c; an ID sample flagged OOD is a false negative). These equal
      ``sklearn.metrics.precision_recall_fscore_support(y_true, y_hat,
      labels=range(K), average="macro", zero_division=0)``, as in the lesson.
    * ``ood_precision``, ``ood_recall``, ``ood_f1``: the same with OOD as the positive class.
    * ``id_accepted``: fraction of ID samples kept as ID (the TPR);
      ``ood_accepted``: fraction of OOD samples kept as ID (the FPR).

    ``thresholds`` defaults to every distinct score (plus one below the smallest).
    """
    import pandas as pd

    y_true, y_pred, scores, k = _check_three_way(y_true, y_pred, scores, n_classes)
    if thresholds is None:
        uniq = np.unique(scores)
        thresholds = np.r_[uniq[0] - 1.0, uniq]
    thresholds = _check_scores(thresholds, "thresholds")
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
            "ood_recall": rec[:, k],
            "ood_f1": f1[:, k],
            "id_accepted": cms[:, :k, :k].sum(axis=(1, 2)) / n_id if n_id else np.nan,
            "ood_accepted": cms[:, k, :k].sum(axis=1) / n_ood if n_ood else np.nan,
        }
    )


# ---------------------------------------------------------------------------
# Results table


#: Column names used by :func:`detector_table` for the keys of :func:`ood_metrics`.
METRIC_NAMES = {"auroc": "AUROC", "fpr_at_95_tpr": "FPR95", "aupr_in": "AUPR-In", "aupr_out": "AUPR-Out"}


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
    import pandas as pd

    if not scores:
        raise ValueError("scores is empty; pass at least one detector")
    unknown = [m for m in metrics if m not in METRIC_NAMES]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; use {', '.join(METRIC_NAMES)}")
    sets = None
    rows = {}
    for name, per_set in scores.items():
        if id_key not in per_set:
            raise ValueError(f"detector {name!r} has no {id_key!r} entry with its ID scores")
        names = [s for s in per_set if s != id_key]
        if not names:
            raise ValueError(f"detector {name!r} has ID scores but no OOD set")
        if sets is None:
            sets = names
        elif names != sets:
            raise ValueError(f"detector {name!r} has OOD sets {names}, but the first detector has {sets}")
        row = {}
        for ood_set in sets:  # a loop over OOD sets, not samples
            result = ood_metrics(per_set[id_key], per_set[ood_set])
            row.update({(ood_set, METRIC_NAMES[m]): result[m] for m in metrics})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["OOD set", "metric"])
    return table


# ---------------------------------------------------------------------------
# A cached 2-D view


def umap_embedding(
    features,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
    cache: bool = True,
    directory=None,
) -> np.ndarray:
    """Return a 2-D UMAP embedding of ``features`` (N, D), cached on disk.

    UMAP (McInnes, Healy & Melville, 2018) compiles its kernels with numba the first
    time they run in each Python process, which costs tens of seconds on a laptop CPU
    whatever the data size. The embedding is therefore stored, like a trained model,
    in the model cache (:func:`trustworthy_lib.models.cache_dir`, or ``directory``) as a
    ``.npy`` file keyed by a SHA-256 of the features, the parameters and the UMAP
    version; a warm build loads it. ``seed`` makes UMAP deterministic (and single-threaded).
    """
    import hashlib
    import json
    from importlib.metadata import version
    from pathlib import Path

    x = np.ascontiguousarray(_check_features(features), dtype=np.float32)
    if len(x) <= n_neighbors:
        raise ValueError(f"UMAP needs more than n_neighbors={n_neighbors} rows, got {len(x)}")
    params = {"n_neighbors": int(n_neighbors), "min_dist": float(min_dist), "seed": int(seed), "umap": version("umap-learn")}
    digest = hashlib.sha256(x.tobytes() + str(x.shape).encode() + json.dumps(params, sort_keys=True).encode())
    if directory is None:
        from trustworthy_lib.models import cache_dir

        directory = cache_dir()
    path = Path(directory) / f"umap-{digest.hexdigest()[:16]}.npy"

    def compute() -> np.ndarray:
        import umap  # imported here: importing umap alone takes seconds

        emb = umap.UMAP(
            n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed, n_jobs=1
        ).fit_transform(x)
        return np.asarray(emb, dtype=np.float32)

    return cached_array(path, compute, valid=lambda e: e.shape == (len(x), 2), use_cache=cache)
