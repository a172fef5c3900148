"""Predictive uncertainty: MC dropout, deep ensembles, evidential losses, and their
decompositions.

Conventions, stated once for the whole module:

* A *sample axis* comes first: MC dropout and ensembles give arrays of shape (S, N, C)
  (S stochastic passes or S ensemble members, N inputs, C classes).
* Entropies and mutual information are in **nats** (natural logarithm).
* Decompositions return ``(total, aleatoric, epistemic)`` per input, with
  ``total = aleatoric + epistemic``: entropy of the mean prediction = expected entropy +
  mutual information (Houlsby et al., 2011; Depeweg et al., 2018), and for regression
  total variance = mean of the variances + variance of the means (the law of total
  variance).
* Larger is more uncertain, for every score here.
* Evidential losses follow the ``uncertainty-loss`` package (0.1.2) exactly:
  ``evidence`` is a non-negative (N, C) tensor such as ``clamped_exp(logits)``, and
  ``targets`` are class indices (N,) or one-hot/probability rows (N, C).

Functions on tensors (losses, decompositions) are separate from those that run a model
(:func:`mc_dropout_predict`, :func:`ensemble_predict`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trustworthy_lib._validation import (
    PROB_TOL,
    InputTypeError,
    check_finite,
    check_positive_int,
)
from trustworthy_lib.utils import eval_mode

__all__ = [
    "clamped_exp",
    "dirichlet_entropy_decomposition",
    "dirichlet_probs",
    "dirichlet_vacuity",
    "dropout_active",
    "ensemble_predict",
    "entropy_decomposition",
    "evidential_loss",
    "EvidentialCriterion",
    "gaussian_nll",
    "maxnorm_loss",
    "mc_dropout_predict",
    "mc_dropout_samples",
    "mc_dropout_tau",
    "variance_decomposition",
]


_REDUCTIONS = ("mean", "sum", "none", None)


# ---------------------------------------------------------------------------
# Input checks


def _as_float_array(x, name: str) -> np.ndarray:
    x = check_finite(x, name)
    if x.size == 0:
        raise ValueError(f"{name} is empty")
    return x


def _check_prob_samples(prob_samples) -> np.ndarray:
    p = _as_float_array(prob_samples, "prob_samples")
    if p.ndim != 3:
        raise ValueError(
            "prob_samples must have shape (S, N, C): S samples or members, N inputs, "
            f"C classes; got {p.shape}. For a single model add a sample axis with "
            "probs[None]"
        )
    sums = p.sum(axis=-1)
    if (p < 0).any() or np.abs(sums - 1).max() > PROB_TOL:
        raise ValueError(
            "the last axis of prob_samples must hold probabilities that sum to 1 "
            f"(row sums range from {sums.min():.3g} to {sums.max():.3g}); if these are "
            "logits, apply a softmax over the class axis first, e.g. "
            "torch.softmax(logits, dim=-1)"
        )
    return p


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction must be one of 'mean', 'sum' or 'none', got {reduction!r}"
        )


def _reduce(x: torch.Tensor, reduction) -> torch.Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x


def _check_evidence_targets(evidence, targets) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(evidence, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise ValueError(
            "evidence and targets must be torch tensors (the losses are differentiated)"
        )
    if evidence.dim() != 2:
        raise ValueError(
            f"evidence must have shape (N, C), got {tuple(evidence.shape)}"
        )
    n, c = evidence.shape
    if n == 0:
        raise ValueError("evidence is empty")
    if torch.isnan(evidence).any():
        raise ValueError("evidence contains NaN values")
    if (evidence < 0).any():
        raise ValueError(
            "evidence must be non-negative; turn logits into evidence first, e.g. "
            "clamped_exp(logits) or torch.nn.functional.softplus(logits)"
        )
    if targets.dim() == 1:
        if len(targets) != n:
            raise ValueError(f"evidence has {n} rows but targets has {len(targets)}")
        if targets.is_floating_point():
            raise ValueError(
                "1-D targets must be integer class indices; pass probabilities as an "
                "(N, C) tensor"
            )
        if ((targets < 0) | (targets >= c)).any():
            raise ValueError(f"targets contain a class index outside 0..{c - 1}")
        onehot = nn.functional.one_hot(targets.long(), num_classes=c).to(evidence.dtype)
    elif targets.dim() == 2:
        if tuple(targets.shape) != (n, c):
            raise ValueError(
                f"(N, C) targets must match evidence's shape {(n, c)}, got "
                f"{tuple(targets.shape)}"
            )
        onehot = targets.to(evidence.dtype)
    else:
        raise ValueError(
            "targets must be class indices (N,) or probabilities (N, C), got shape "
            f"{tuple(targets.shape)}"
        )
    return evidence, onehot


# ---------------------------------------------------------------------------
# Evidential deep learning (Sensoy et al., 2018; Tsiligkaridis, 2021)


def clamped_exp(x: torch.Tensor, clamp: float = 10.0) -> torch.Tensor:
    r"""Evidence from logits: :math:`\exp(\mathrm{clip}(x, -c, c))`.

    As ``uncertainty_loss.clamped_exp``.

    Exponential evidence works best for evidential losses (the package's README and
    Sensoy et al. 2018), and the clamp (default ``c = 10``, evidence at most
    :math:`e^{10} \approx 22026`) avoids overflow.
    """
    if clamp <= 0:
        raise ValueError(f"clamp must be positive, got {clamp}")
    return torch.exp(torch.clamp(x, -clamp, clamp))


def evidential_loss(
    evidence: torch.Tensor,
    targets: torch.Tensor,
    reg_factor: float = 0.0,
    reduction="mean",
):
    r"""Sensoy et al. (2018) evidential loss.

    Dirichlet expected squared error plus an annealed KL term.

    With :math:`\alpha = e + 1`, :math:`S = \sum_k \alpha_k` and
    :math:`\hat p = \alpha / S` (eq. 5 of the paper),

    .. math::

        \mathcal{L} = \sum_k (y_k - \hat p_k)^2 + \frac{\hat p_k(1-\hat p_k)}{S+1}
        \;+\; \lambda\,
        \mathrm{KL}\bigl(\mathrm{Dir}(\tilde\alpha)\,\|\,\mathrm{Dir}(\mathbf 1)\bigr),
        \qquad \tilde\alpha = y + (1-y)\,\alpha,

    where the KL term removes the evidence of the wrong classes and ``reg_factor`` is
    :math:`\lambda` (anneal it from 0 to 1 during training; see
    :class:`EvidentialCriterion`). Same signature and values as
    ``uncertainty_loss.evidential_loss``. ``reduction`` is ``"mean"``, ``"sum"`` or
    ``"none"`` (per-row losses of shape (N,)). One deliberate difference: with
    ``reg_factor > 0``, uncertainty-loss 0.1.2 broadcasts its KL term to an (N, N)
    matrix, so its ``"none"`` fails and its ``"sum"`` counts the KL N times; its
    ``"mean"`` (the default, used for training) is right and equals ours.
    """
    _check_reduction(reduction)
    evidence, y = _check_evidence_targets(evidence, targets)
    alpha = evidence + 1
    s = alpha.sum(dim=1, keepdim=True)
    p = alpha / s
    loss = ((y - p) ** 2 + p * (1 - p) / (s + 1)).sum(dim=1)
    if reg_factor > 0:
        a = y + (1 - y) * alpha
        sa = a.sum(dim=1)
        k = torch.tensor(
            float(evidence.shape[1]), dtype=evidence.dtype, device=evidence.device
        )
        kl = (
            torch.lgamma(sa)
            - torch.lgamma(k)
            - torch.lgamma(a).sum(dim=1)
            + ((a - 1) * (torch.digamma(a) - torch.digamma(sa)[:, None])).sum(dim=1)
        )
        loss = loss + reg_factor * kl
    return _reduce(loss, reduction)


def maxnorm_loss(
    evidence: torch.Tensor,
    targets: torch.Tensor,
    reg_factor: float = 0.0,
    p_norm: int = 4,
    reduction="mean",
):
    r"""Tsiligkaridis (2021) max-norm Dirichlet loss, Fisher-information regulariser.

    The loss is the :math:`L_p` upper bound of the expected max-norm error
    :math:`\mathbb E_{\mathrm{Dir}(\alpha)}\,\|y - p\|_\infty` (their eq. 10): with
    :math:`S = \sum_k \alpha_k` and :math:`\hat S = \sum_{k \ne y} \alpha_k`,

    .. math::

        F = \Bigl(\frac{\Gamma(S)}{\Gamma(S+p)}\Bigr)^{1/p}
            \Bigl(\frac{\Gamma(\hat S+p)}{\Gamma(\hat S)}
            + \sum_{k\ne y}\frac{\Gamma(\alpha_k+p)}{\Gamma(\alpha_k)}\Bigr)^{1/p},

    computed in log space. ``reg_factor`` weights the information regulariser
    :math:`\tfrac12\sum_{k\ne y}(\alpha_k-1)^2\,[\psi_1(\alpha_k) - \psi_1(S)]`, which
    shrinks the evidence of the wrong classes. Same signature and values as
    ``uncertainty_loss.maxnorm_loss`` (classes with a positive target count as
    "correct").
    """
    _check_reduction(reduction)
    if isinstance(p_norm, bool) or not isinstance(p_norm, (int, float)) or p_norm <= 0:
        raise ValueError(f"p_norm must be a positive number, got {p_norm!r}")
    evidence, y = _check_evidence_targets(evidence, targets)
    p = float(p_norm)
    alpha = evidence + 1
    wrong = y <= 0
    s = alpha.sum(dim=1)
    s_hat = (alpha * wrong).sum(dim=1)
    # log of each term in the second bracket; the true class adds nothing (-inf)
    term_k = torch.where(
        wrong,
        torch.lgamma(alpha + p) - torch.lgamma(alpha),
        torch.full_like(alpha, -math.inf),
    )
    term_0 = torch.lgamma(s_hat + p) - torch.lgamma(s_hat)
    log_bracket = torch.logsumexp(torch.cat([term_0[:, None], term_k], dim=1), dim=1)
    loss = torch.exp((torch.lgamma(s) - torch.lgamma(s + p) + log_bracket) / p)
    if reg_factor > 0:
        fisher = 0.5 * (
            ((alpha - 1) * wrong) ** 2
            * (torch.polygamma(1, alpha) - torch.polygamma(1, s)[:, None])
        ).sum(dim=1)
        loss = loss + reg_factor * fisher
    return _reduce(loss, reduction)


class EvidentialCriterion:
    """A training loss for an evidential classifier.

    Logits -> clamped-exp evidence -> annealed loss.

    Each call turns the network's outputs into evidence with :func:`clamped_exp` and
    returns :func:`evidential_loss` (``loss="evidential"``) or :func:`maxnorm_loss`
    (``loss="maxnorm"``) with a regularisation factor annealed linearly from 0 to
    ``max_reg`` over ``anneal_steps`` calls, as the ``uncertainty-loss`` README
    recommends (the regulariser must not dominate early in training). Pass it as
    ``loss_fn`` to :func:`trustworthy_lib.models.train_classifier`; each optimisation
    step calls it once.
    """

    def __init__(
        self,
        loss: str = "evidential",
        anneal_steps: int = 1000,
        max_reg: float = 1.0,
        clamp: float = 10.0,
        p_norm: int = 4,
    ):
        if loss not in ("evidential", "maxnorm"):
            raise ValueError(f"loss must be 'evidential' or 'maxnorm', got {loss!r}")
        if not isinstance(anneal_steps, int) or anneal_steps < 1:
            raise ValueError(
                f"anneal_steps must be a positive integer, got {anneal_steps!r}"
            )
        if max_reg < 0:
            raise ValueError(f"max_reg must be non-negative, got {max_reg}")
        self.loss, self.anneal_steps, self.max_reg, self.clamp, self.p_norm = (
            loss,
            anneal_steps,
            max_reg,
            clamp,
            p_norm,
        )
        self.step = 0

    @property
    def reg_factor(self) -> float:
        """The regularisation factor the next call will use.

        It is ``max_reg * min(1, step / anneal_steps)``.
        """
        return self.max_reg * min(1.0, self.step / self.anneal_steps)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        evidence = clamped_exp(logits, self.clamp)
        reg = self.reg_factor
        self.step += 1
        if self.loss == "evidential":
            return evidential_loss(evidence, targets, reg_factor=reg)
        return maxnorm_loss(evidence, targets, reg_factor=reg, p_norm=self.p_norm)


def dirichlet_probs(evidence) -> np.ndarray:
    r"""Expected class probabilities of :math:`\mathrm{Dir}(e + 1)`.

    :math:`\hat p = \alpha / S` (Sensoy et al., eq. 2).
    """
    e = _check_evidence_array(evidence)
    alpha = e + 1
    return alpha / alpha.sum(axis=1, keepdims=True)


def dirichlet_vacuity(evidence) -> np.ndarray:
    r"""Subjective-logic uncertainty mass :math:`u = K / S`, in (0, 1].

    Sensoy et al. (2018), eq. 1.

    It is 1 with no evidence at all and falls as evidence accumulates; the evidential
    model's own "I don't know" score.
    """
    e = _check_evidence_array(evidence)
    return e.shape[1] / (e + 1).sum(axis=1)


def dirichlet_entropy_decomposition(
    evidence,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Closed-form entropy decomposition of :math:`\mathrm{Dir}(\alpha)`, in nats.

    total :math:`= H(\hat p)` with :math:`\hat p = \alpha/S`; aleatoric
    :math:`= \mathbb E_{p\sim\mathrm{Dir}(\alpha)} H(p)
    = \sum_k \hat p_k\,[\psi(S+1) - \psi(\alpha_k+1)]`
    (Malinin and Gales, 2018); epistemic = total - aleatoric (the mutual information).
    Matches ``uncertainty_loss.uncertainty``, ``data_uncertainty`` and
    ``model_uncertainty``.
    """
    from scipy.special import digamma, xlogy

    e = _check_evidence_array(evidence)
    alpha = e + 1
    s = alpha.sum(axis=1, keepdims=True)
    p = alpha / s
    total = -xlogy(p, p).sum(axis=1)
    aleatoric = (p * (digamma(s + 1) - digamma(alpha + 1))).sum(axis=1)
    return total, aleatoric, total - aleatoric


def _check_evidence_array(evidence) -> np.ndarray:
    e = _as_float_array(evidence, "evidence")
    if e.ndim != 2:
        raise ValueError(f"evidence must have shape (N, C), got {e.shape}")
    if (e < 0).any():
        raise ValueError(
            "evidence must be non-negative; use clamped_exp(logits) to get evidence "
            "from logits"
        )
    return e


# ---------------------------------------------------------------------------
# Decompositions


def entropy_decomposition(prob_samples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Split predictive entropy into aleatoric and epistemic parts, per input, in nats.

    For probabilities :math:`p^{(s)}` from S MC-dropout passes or ensemble members,

    .. math::

        \underbrace{H\Bigl(\tfrac1S\textstyle\sum_s p^{(s)}\Bigr)}_{\text{total}}
        = \underbrace{\tfrac1S\textstyle\sum_s H\bigl(p^{(s)}\bigr)}
          _{\text{aleatoric (expected entropy)}}
        + \underbrace{\mathrm{MI}(y;\theta)}_{\text{epistemic (mutual information)}}

    (Houlsby et al., 2011; Gal, 2016; Depeweg et al., 2018). The mutual information is 0
    when all members agree and at most :math:`\log S` and :math:`\log C`. Tiny negative
    values from rounding are clipped to 0.

    Parameters
    ----------
    prob_samples:
        Probabilities of shape (S, N, C).

    Returns
    -------
    (total, aleatoric, epistemic)
        Three float64 arrays of shape (N,).
    """
    from scipy.special import xlogy

    p = _check_prob_samples(prob_samples)
    mean = p.mean(axis=0)
    total = -xlogy(mean, mean).sum(axis=-1)
    aleatoric = (-xlogy(p, p).sum(axis=-1)).mean(axis=0)
    epistemic = np.maximum(total - aleatoric, 0.0)
    return total, aleatoric, epistemic


def variance_decomposition(
    means, variances
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Law of total variance for an ensemble or MC-dropout regression model.

    With member means :math:`\mu_s(x)` and member (aleatoric) variances
    :math:`\sigma_s^2(x)`,

    .. math::

        \mu = \tfrac1S\textstyle\sum_s \mu_s,\qquad
        \underbrace{\tfrac1S\textstyle\sum_s \sigma_s^2}_{\text{aleatoric}}
        + \underbrace{\tfrac1S\textstyle\sum_s \mu_s^2 - \mu^2}_{\text{epistemic}}

    as in Lakshminarayanan et al. (2017, sec. 2.4) and Kendall and Gal (2017, eq. 9).
    For MC dropout with homoscedastic noise (Gal and Ghahramani, 2016, eq. 8) pass the
    scalar :math:`\tau^{-1}` as ``variances``.

    Parameters
    ----------
    means:
        Array of shape (S, N) or (S, N, D).
    variances:
        Non-negative array of the same shape, or anything that broadcasts to it (a
        scalar).

    Returns
    -------
    (mean, aleatoric, epistemic)
        Arrays of shape (N,) or (N, D). The predictive variance is
        ``aleatoric + epistemic``.
    """
    mu = _as_float_array(means, "means")
    if mu.ndim not in (2, 3):
        raise ValueError(f"means must have shape (S, N) or (S, N, D), got {mu.shape}")
    var = _as_float_array(variances, "variances")
    if (var < 0).any():
        raise ValueError(
            "variances must be non-negative; if your network outputs log-variances, "
            "exponentiate them"
        )
    try:
        var = np.broadcast_to(var, mu.shape)
    except ValueError:
        raise ValueError(
            f"variances of shape {var.shape} do not broadcast to the means' shape "
            f"{mu.shape}"
        ) from None
    return mu.mean(axis=0), var.mean(axis=0), mu.var(axis=0)


def gaussian_nll(
    mean: torch.Tensor,
    target: torch.Tensor,
    var: torch.Tensor,
    *,
    full: bool = False,
    eps: float = 1e-6,
    reduction="mean",
) -> torch.Tensor:
    r"""Gaussian negative log-likelihood with a predicted variance.

    Nix and Weigend (1994); Kendall and Gal (2017), eq. 5.

    .. math::

        \mathcal L = \tfrac12\Bigl(\log \sigma^2 + \frac{(y-\mu)^2}{\sigma^2}\Bigr)
        \;\bigl[+\;\tfrac12\log 2\pi \text{ if } \texttt{full}\bigr]

    with :math:`\sigma^2` clamped below at ``eps`` for stability. The argument order and
    values are those of ``torch.nn.functional.gaussian_nll_loss(input, target, var)``:
    by default (``full=False``) the constant :math:`\tfrac12\log 2\pi` is left out, so
    the loss can be negative. ``var`` must have the shape of ``mean`` (or broadcast to
    it).
    """
    _check_reduction(reduction)
    for name, t in (("mean", mean), ("target", target), ("var", var)):
        if not isinstance(t, torch.Tensor):
            raise InputTypeError(
                f"{name} must be a torch tensor, got {type(t).__name__}"
            )
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    if mean.shape != target.shape:
        raise ValueError(
            f"mean has shape {tuple(mean.shape)} but target has {tuple(target.shape)}; "
            "they must match"
        )
    if mean.numel() == 0:
        raise ValueError("mean is empty")
    # torch's rule: var has mean's shape, or mean's shape without its last dimension,
    # or mean's shape with last dimension 1 (one variance shared by that row)
    if not (
        var.shape == mean.shape
        or var.shape == mean.shape[:-1]
        or (
            var.shape[:-1] == mean.shape[:-1]
            and var.dim() == mean.dim()
            and var.shape[-1] == 1
        )
    ):
        raise ValueError(
            f"var has shape {tuple(var.shape)} but mean has {tuple(mean.shape)}; var "
            "must have the shape of mean (one variance per prediction). A (N, 1) "
            "variance with a (N,) mean would broadcast to an (N, N) loss: use "
            "var.squeeze(-1)"
        )
    if (var < 0).any():
        raise ValueError(
            "var must be non-negative; predict it with softplus or exp of a raw output"
        )
    torch_reduction = "none" if reduction is None else reduction
    return nn.functional.gaussian_nll_loss(
        mean, target, var, full=full, eps=eps, reduction=torch_reduction
    )


def mc_dropout_tau(
    length_scale: float, dropout: float, n_train: int, weight_decay: float
) -> float:
    r"""Model precision :math:`\tau` of MC dropout (Gal and Ghahramani, 2016).

    See their sec. 4 and appendix.

    .. math::

        \tau = \frac{(1-p)\,l^2}{2 N \lambda}

    for dropout probability :math:`p`, prior length-scale :math:`l`, :math:`N` training
    points and weight decay :math:`\lambda`, where training minimises
    :math:`\frac1{2N}\sum_i (y_i-\hat y_i)^2 + \lambda\sum \lVert W\rVert^2` (so
    PyTorch's ``weight_decay`` option equals :math:`2\lambda`). :math:`\tau^{-1}` is the
    observation noise variance added to the MC sample variance in the predictive
    variance (their eq. 8).
    """
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if length_scale <= 0 or weight_decay <= 0:
        raise ValueError("length_scale and weight_decay must be positive")
    if not isinstance(n_train, (int, np.integer)) or n_train < 1:
        raise ValueError(f"n_train must be a positive integer, got {n_train!r}")
    return (1 - dropout) * length_scale**2 / (2 * n_train * weight_decay)


# ---------------------------------------------------------------------------
# Running models


def _dropout_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


@contextmanager
def dropout_active(model: nn.Module):
    """Context manager: the model in eval mode except its dropout layers, which sample.

    Batch-norm and every other layer stay in evaluation mode (running statistics are
    used and not updated). On exit each submodule gets back exactly the mode it had
    before.
    """
    with eval_mode(model):
        for m in _dropout_modules(model):
            m.train()
        yield model


def _as_input(x) -> torch.Tensor:
    x = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if x.dim() == 0 or len(x) == 0:
        raise ValueError("x is empty; pass at least one input")
    if x.is_floating_point():
        if torch.isnan(x).any():
            raise ValueError("x contains NaN values")
        x = x.float()
    return x


def _in_batches(fn, x: torch.Tensor, batch_size: int, device) -> torch.Tensor:
    """``fn`` applied to ``x`` in batches on ``device``, as one float CPU tensor."""
    return torch.cat(
        [
            fn(x[i : i + batch_size].to(device)).float().cpu()
            for i in range(0, len(x), batch_size)
        ]
    )


@torch.no_grad()
def mc_dropout_samples(
    model: nn.Module,
    x,
    n_samples: int,
    *,
    trunk: nn.Module | None = None,
    seed: int | None = None,
    batch_size: int = 2048,
) -> np.ndarray:
    """Return the raw outputs of ``n_samples`` stochastic forward passes: (S, N, ...).

    Only the dropout layers sample (see :func:`dropout_active`); the model's modes are
    restored afterwards. If ``trunk`` is given, ``trunk(x)`` is computed once in eval
    mode and ``model`` (then the head that holds the dropout) runs S times on it: exact,
    and much cheaper when all dropout sits after a deterministic convolutional trunk.
    ``seed`` makes the dropout masks reproducible without touching the global random
    state.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    if not _dropout_modules(model):
        raise ValueError(
            f"{type(model).__name__} has no dropout layers, so every MC-dropout sample "
            "would be identical; add nn.Dropout to the model (or pass the head that "
            "contains it)"
        )
    if trunk is not None and _dropout_modules(trunk):
        raise ValueError(
            "trunk contains dropout layers; its output would be frozen. Pass only "
            "deterministic layers as trunk"
        )
    x = _as_input(x)
    device = next(model.parameters()).device
    if trunk is not None:
        with eval_mode(trunk):
            x = _in_batches(trunk, x, batch_size, device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        with dropout_active(model):
            out = torch.stack(
                [_in_batches(model, x, batch_size, device) for _ in range(n_samples)]
            )
    return out.numpy()


def mc_dropout_predict(
    model: nn.Module,
    x,
    n_samples: int,
    *,
    trunk: nn.Module | None = None,
    seed: int | None = None,
    batch_size: int = 2048,
) -> np.ndarray:
    """MC dropout for a classifier (Gal and Ghahramani, 2016): softmax of S passes.

    The S passes are stochastic.

    Keeps dropout sampling at test time and everything else (batch norm included) in
    evaluation mode, runs ``n_samples`` passes and returns the class probabilities as a
    float32 array of shape (S, N, C); the model's train/eval modes are restored
    afterwards. Average over axis 0 for the predictive distribution, or pass the result
    to :func:`entropy_decomposition`. See :func:`mc_dropout_samples` for ``trunk`` and
    ``seed``.
    """
    logits = mc_dropout_samples(
        model, x, n_samples, trunk=trunk, seed=seed, batch_size=batch_size
    )
    if logits.ndim != 3:
        raise ValueError(
            "the model must output (N, C) logits, got per-sample outputs of shape "
            f"{logits.shape[1:]}"
        )
    return torch.softmax(torch.from_numpy(logits), dim=-1).numpy()


def ensemble_predict(
    models: Sequence[nn.Module], x, batch_size: int = 2048
) -> np.ndarray:
    """Deep ensemble (Lakshminarayanan et al., 2017): softmax of each member.

    Each member's logits go through a softmax; shape (M, N, C).

    Each member runs in evaluation mode (its mode is restored afterwards). Average over
    axis 0 for the ensemble's prediction, or pass the result to
    :func:`entropy_decomposition`.
    """
    from trustworthy_lib.models import predict_logits

    models = list(models)
    if not models:
        raise ValueError("models is empty; pass a list of trained classifiers")
    x = _as_input(x)
    logits = [predict_logits(m, x, batch_size=batch_size) for m in models]
    shapes = {lg.shape for lg in logits}
    if len(shapes) != 1:
        raise ValueError(
            f"ensemble members disagree on the output shape: {sorted(shapes)}; they "
            "must share the classes"
        )
    if logits[0].ndim != 2:
        raise ValueError(
            f"members must output (N, C) logits, got shape {logits[0].shape}"
        )
    return torch.softmax(torch.from_numpy(np.stack(logits)), dim=-1).numpy()


# ---------------------------------------------------------------------------
# Comparing methods (chapter 08b)


def predictive_entropy(probs) -> np.ndarray:
    r"""Entropy :math:`-\sum_k p_k \log p_k` of each (N, C) row, in nats."""
    p = _as_float_array(probs, "probs")
    if p.ndim != 2:
        raise ValueError(f"probs must have shape (N, C), got {p.shape}")
    return entropy_decomposition(p[None])[0]


def ood_auroc(score_id, score_ood) -> float:
    """AUROC of an uncertainty score for telling OOD inputs (positive) from ID inputs.

    Larger scores must mean "more uncertain"; 0.5 is chance and 1 is perfect. It is the
    fraction of (ID, OOD) pairs in which the OOD input gets the larger score (ties count
    one half), as ``sklearn.metrics.roc_auc_score`` computes it.
    """
    from sklearn.metrics import roc_auc_score

    s_id = _as_float_array(score_id, "score_id").reshape(-1)
    s_ood = _as_float_array(score_ood, "score_ood").reshape(-1)
    is_ood = np.r_[np.zeros(len(s_id)), np.ones(len(s_ood))]
    return float(roc_auc_score(is_ood, np.r_[s_id, s_ood]))


@dataclass(frozen=True)
class MethodPredictions:
    """One uncertainty method's predictions, a row of :func:`compare_methods`.

    ``probs_id`` (N, C) and ``probs_ood`` (N_ood, C) are its class probabilities on the
    ID test set and on the OOD set; ``score_id`` and ``score_ood`` its own uncertainty
    score (larger = more uncertain) on the same inputs, named ``score_name``;
    ``forward_passes`` is what one prediction costs and ``train_seconds`` the training
    time.
    """

    probs_id: np.ndarray
    probs_ood: np.ndarray
    score_name: str
    score_id: np.ndarray
    score_ood: np.ndarray
    forward_passes: int
    train_seconds: float


def compare_methods(methods: dict, labels, n_bins: int = 15):
    """One row per method: accuracy, NLL, Brier, ECE (%), OOD AUROC and cost.

    ``methods`` maps a method's name to its :class:`MethodPredictions`; ``labels`` are
    the ID test labels. The OOD AUROC is computed twice (see :func:`ood_auroc`): from
    the method's own score and, like for like, from the predictive entropy of its
    probabilities. Returns a pandas DataFrame indexed by method name.
    """
    import pandas as pd

    from trustworthy_lib.calibration import probabilistic_scores

    if not methods:
        raise ValueError("methods is empty; pass {name: MethodPredictions(...)}")
    rows = []
    for name, m in methods.items():
        if not isinstance(m, MethodPredictions):
            raise TypeError(
                f"methods[{name!r}] must be a MethodPredictions, got {type(m).__name__}"
            )
        if len(m.score_id) != len(m.probs_id) or len(m.score_ood) != len(m.probs_ood):
            raise ValueError(
                f"{name}: the scores must have one value per row of the probabilities "
                f"(ID {len(m.score_id)} vs {len(m.probs_id)}, "
                f"OOD {len(m.score_ood)} vs {len(m.probs_ood)})"
            )
        scores = probabilistic_scores(m.probs_id, labels, n_bins=n_bins)
        ent_id, ent_ood = (
            predictive_entropy(m.probs_id),
            predictive_entropy(m.probs_ood),
        )
        rows.append(
            {
                "method": name,
                "accuracy": scores["accuracy"],
                "NLL": scores["nll"],
                "Brier": scores["brier"],
                "ECE (%)": 100 * scores["ece"],
                "uncertainty score": m.score_name,
                "OOD AUROC (own score)": ood_auroc(m.score_id, m.score_ood),
                "OOD AUROC (entropy)": ood_auroc(ent_id, ent_ood),
                "forward passes": int(m.forward_passes),
                "training time (s)": float(m.train_seconds),
            }
        )
    return pd.DataFrame(rows).set_index("method")
