"""A 1-D regression problem with gaps and input-dependent noise, and small nets for it.

The toy problem lets learners *see* uncertainty: :func:`make_toy_regression` draws
inputs from an interval with gaps and adds Gaussian noise whose standard deviation
:func:`noise_std` grows with ``x``. :class:`MLPEnsemble` is a small multilayer
perceptron that holds ``M`` independent members in stacked weight tensors, so a deep
ensemble trains in one batched, full-batch pass (``M = 1`` gives a single net). With two
outputs it predicts a mean and a variance (a heteroscedastic net); with dropout it
supports MC dropout. :func:`fit_regressor` trains it (on the shared loop,
:func:`trustworthy_lib.training.fit`), :func:`toy_regressor` trains or loads it from the
model cache, and the ``predict_*`` helpers return ``(mean, aleatoric, epistemic)``
variances per input (see :func:`trustworthy_lib.uncertainty.variance_decomposition`).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from trustworthy_lib.training import BatchLoss, fit
from trustworthy_lib.uncertainty import (
    gaussian_nll,
    mc_dropout_samples,
    variance_decomposition,
)
from trustworthy_lib.utils import eval_mode

__all__ = [
    "GAPS",
    "X_RANGE",
    "fit_regressor",
    "in_gap",
    "l2_penalty",
    "make_toy_regression",
    "MLPEnsemble",
    "noise_std",
    "plot_mean_and_band",
    "predict_gaussian",
    "predict_mc_dropout",
    "predict_mean",
    "select_mc_dropout_tau",
    "shade_data_regions",
    "StackedLinear",
    "torch_threads",
    "toy_regressor",
    "true_function",
]


X_RANGE = (-3.0, 3.0)
GAPS = ((-1.5, 0.0),)


def true_function(x) -> np.ndarray:
    r"""The noiseless target :math:`f(x) = \sin(1.5x) + 0.3x`."""
    x = np.asarray(x, dtype=np.float64)
    return np.sin(1.5 * x) + 0.3 * x


def noise_std(x) -> np.ndarray:
    r"""The true aleatoric noise: :math:`\sigma(x) = 0.05 + 0.5\,/\,(1 + e^{-1.5x})`.

    It rises from about 0.05 on the left to 0.55 on the right.
    """
    x = np.asarray(x, dtype=np.float64)
    return 0.05 + 0.5 / (1.0 + np.exp(-1.5 * x))


def _check_gaps(x_range, gaps) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range}")
    clean = []
    for gap in sorted(gaps):
        a, b = (float(v) for v in gap)
        if not lo <= a < b <= hi:
            raise ValueError(
                f"gap {gap} must be an interval (a, b) with a < b inside "
                f"x_range {x_range}"
            )
        if clean and a < clean[-1][1]:
            raise ValueError(f"gaps {clean[-1]} and {gap} overlap; merge them into one")
        clean.append((a, b))
    if sum(b - a for a, b in clean) >= hi - lo:
        raise ValueError("the gaps cover the whole x_range; leave some room for data")
    return (lo, hi), clean


def make_toy_regression(
    n: int, *, seed: int, x_range=X_RANGE, gaps=GAPS
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` noisy points ``(x, y)`` of the toy problem.

    x is uniform on ``x_range`` minus ``gaps`` and y = f(x) + sigma(x) * eps, with f
    :func:`true_function`, sigma :func:`noise_std` and eps standard normal. Returns
    float32 arrays of shape (n, 1), sorted by x. The same ``seed`` gives the same data;
    a larger ``n`` with the same seed is *not* a superset (draw again).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    (lo, hi), gaps = _check_gaps(x_range, gaps)
    rng = np.random.default_rng(seed)
    # sample on the total allowed length, then shift each point past the gaps that
    # precede it
    allowed = (hi - lo) - sum(b - a for a, b in gaps)
    x = np.sort(lo + rng.uniform(0.0, allowed, size=n))
    for a, b in gaps:  # a loop over gaps (one or two), not over samples
        x = np.where(x >= a, x + (b - a), x)
    y = true_function(x) + noise_std(x) * rng.standard_normal(n)
    return x.astype(np.float32)[:, None], y.astype(np.float32)[:, None]


def in_gap(x, gaps=GAPS) -> np.ndarray:
    """Boolean mask: True where ``x`` lies inside one of ``gaps``."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    mask = np.zeros(x.shape, dtype=bool)
    for a, b in gaps:
        mask |= (x > a) & (x < b)
    return mask


class StackedLinear(nn.Module):
    """``M`` independent linear layers in one batched matmul: (M, N, in) -> (M, N, out).

    Each member is initialised like :class:`torch.nn.Linear` (uniform in
    :math:`\\pm 1/\\sqrt{\\text{in}}`), independently.
    """

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / in_features**0.5
        self.weight = nn.Parameter(
            torch.empty(members, in_features, out_features).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(
            torch.empty(members, 1, out_features).uniform_(-bound, bound)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class MLPEnsemble(nn.Module):
    """``members`` independent MLPs ``1 -> hidden -> ... -> outputs``, stacked weights.

    ``forward(x)`` takes x of shape (N, 1) (or (N,)) and returns (M, N, outputs). With
    ``outputs=2`` the second output is a raw variance score; :meth:`mean_var` turns it
    into a variance with softplus (plus ``min_var``). ``dropout > 0`` puts an
    :class:`torch.nn.Dropout` after every hidden activation, for MC dropout.
    """

    def __init__(
        self,
        members: int = 1,
        hidden: int = 64,
        depth: int = 2,
        outputs: int = 1,
        dropout: float = 0.0,
        activation: str = "relu",
        min_var: float = 1e-4,
    ):
        super().__init__()
        if members < 1 or hidden < 1 or depth < 1:
            raise ValueError("members, hidden and depth must be positive integers")
        if outputs not in (1, 2):
            raise ValueError(
                "outputs must be 1 (a mean) or 2 (a mean and a variance), "
                f"got {outputs}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}
        if activation not in acts:
            raise ValueError(
                f"activation must be one of {sorted(acts)}, got {activation!r}"
            )
        self.members, self.outputs, self.min_var = members, outputs, min_var
        layers: list[nn.Module] = []
        width = 1
        for _ in range(depth):
            layers += [StackedLinear(members, width, hidden), acts[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(StackedLinear(members, width, outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 1:
            x = x[:, None]
        if x.dim() != 2 or x.shape[1] != 1:
            raise ValueError(f"x must have shape (N, 1) or (N,), got {tuple(x.shape)}")
        return self.net(x.unsqueeze(0).expand(self.members, -1, -1))

    def mean_var(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (mean, variance), each of shape (M, N); needs ``outputs=2``."""
        if self.outputs != 2:
            raise ValueError(
                "this network predicts only a mean; build it with outputs=2 for a "
                "variance"
            )
        out = self(x)
        return out[..., 0], nn.functional.softplus(out[..., 1]) + self.min_var


@contextmanager
def torch_threads(n: int | None):
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous value.

    The toy nets are tiny: one thread is faster than several, which mostly wait on each
    other (and, on a busy machine, spin). ``n=None`` leaves the setting alone.
    """
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of squared weights and biases over all parameters.

    That is :math:`\\sum \\lVert W\\rVert^2`, the penalty of :func:`fit_regressor`.
    """
    return sum((p**2).sum() for p in model.parameters())


def _check_xy(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1)
    y = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1)
    if len(x) == 0:
        raise ValueError("x is empty; pass at least one training point")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} points but y has {len(y)}")
    if torch.isnan(x).any() or torch.isnan(y).any():
        raise ValueError("x or y contains NaN values")
    return x, y


def fit_regressor(
    model: MLPEnsemble,
    x,
    y,
    *,
    loss: str = "mse",
    steps: int = 2000,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    device=None,
    progress: bool = True,
    num_threads: int | None = 1,
) -> dict:
    r"""Train ``model`` full-batch with Adam; return its loss history and wall time.

    ``loss="mse"`` minimises :math:`\frac1{2N}\sum_i(y_i-\hat y_i)^2` (a mean-only net);
    ``loss="gaussian_nll"`` minimises :func:`trustworthy_lib.uncertainty.gaussian_nll`
    of the predicted mean and variance (Nix and Weigend, 1994; Lakshminarayanan et al.,
    2017). ``weight_decay`` is :math:`\lambda` in an explicit penalty
    :math:`\lambda\sum\lVert W\rVert^2` (Gal's convention, see
    :func:`trustworthy_lib.uncertainty.mc_dropout_tau`). Members of an ensemble have
    disjoint weights, so summing their losses trains each on its own loss. The learning
    rate decays by cosine annealing to 1 % of ``lr``. Each of the ``steps`` is one
    "epoch" of :func:`trustworthy_lib.training.fit` on the full batch. Returns
    ``{"loss": [...], "train_seconds": ...}``: the data loss (without the penalty) per
    member every 50 steps and at the last, and the wall time. The model is left in eval
    mode. Training runs on ``num_threads`` CPU threads (see :func:`torch_threads`).
    """
    from trustworthy_lib.utils import get_device

    if loss not in ("mse", "gaussian_nll"):
        raise ValueError(f"loss must be 'mse' or 'gaussian_nll', got {loss!r}")
    if loss == "gaussian_nll" and model.outputs != 2:
        raise ValueError(
            "loss='gaussian_nll' needs a network with outputs=2 (a mean and a variance)"
        )
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    x, y = _check_xy(x, y)
    device = torch.device(device) if device is not None else get_device()
    x, y = x.to(device), y.to(device)  # once, not at every step

    def batch_loss(model: MLPEnsemble, batch) -> BatchLoss:
        xb, yb = batch
        if loss == "mse":
            data_loss = 0.5 * ((model(xb)[..., 0] - yb) ** 2).mean(dim=1).sum()
        else:
            mean, var = model.mean_var(xb)
            nll = gaussian_nll(mean, yb.expand_as(mean), var, reduction="none")
            data_loss = nll.mean(dim=1).sum()
        penalty = weight_decay * l2_penalty(model) if weight_decay > 0 else None
        return BatchLoss(data_loss, penalty=penalty)

    with torch_threads(num_threads):
        # one full batch per "epoch": an epoch is a step
        history = fit(
            model,
            batch_loss,
            [(x, y)],
            epochs=steps,
            lr=lr,
            final_lr=lr / 100,
            device=device,
            progress=progress,
            desc=f"fitting {loss} regressor",
        )
    return {
        "loss": [
            value / model.members
            for step, value in enumerate(history["loss"])
            if step % 50 == 0 or step == steps - 1
        ],
        "train_seconds": history["train_seconds"],
    }


def toy_regressor(
    kind: str,
    *,
    n_train: int,
    data_seed: int = 0,
    seed: int = 0,
    members: int | None = None,
    hidden: int = 64,
    activation: str = "silu",
    dropout: float = 0.1,
    steps: int = 3000,
    lr: float = 1e-2,
    weight_decay: float | None = None,
    progress: bool = True,
    directory=None,
):
    """Train (or load from the model cache) one of the chapter's four toy regressors.

    ``kind`` is ``"deterministic"`` (one mean-only net, MSE), ``"mc_dropout"`` (one
    mean-only net with dropout and weight decay), ``"heteroscedastic"`` (one
    mean-and-variance net, Gaussian NLL) or ``"ensemble"`` (``members`` heteroscedastic
    nets, default 5). The data is ``make_toy_regression(n_train, seed=data_seed)``.
    Every net has two hidden layers of ``hidden`` units with ``activation`` (SiLU by
    default: smooth, and its extrapolations differ between ensemble members more than
    ReLU's). Returns ``(model, info)`` as :func:`trustworthy_lib.models.train_or_load`
    does; ``info["config"]`` repeats the settings.
    """
    from trustworthy_lib.models import train_or_load

    kinds = {
        "deterministic": dict(
            outputs=1, dropout=0.0, members=1, loss="mse", weight_decay=0.0
        ),
        "mc_dropout": dict(
            outputs=1, dropout=dropout, members=1, loss="mse", weight_decay=1e-4
        ),
        "heteroscedastic": dict(
            outputs=2, dropout=0.0, members=1, loss="gaussian_nll", weight_decay=0.0
        ),
        "ensemble": dict(
            outputs=2, dropout=0.0, members=5, loss="gaussian_nll", weight_decay=0.0
        ),
    }
    if kind not in kinds:
        raise ValueError(f"kind must be one of {sorted(kinds)}, got {kind!r}")
    spec = dict(kinds[kind])
    if members is not None:
        if kind != "ensemble" and members != 1:
            raise ValueError(
                "only kind='ensemble' has several members, "
                f"got members={members} for {kind!r}"
            )
        spec["members"] = members
    if weight_decay is not None:
        spec["weight_decay"] = weight_decay
    config = dict(
        kind=kind,
        n_train=n_train,
        data_seed=data_seed,
        seed=seed,
        hidden=hidden,
        activation=activation,
        steps=steps,
        lr=lr,
        x_range=list(X_RANGE),
        gaps=[list(g) for g in GAPS],
        **spec,
    )

    def build():
        return MLPEnsemble(
            members=spec["members"],
            hidden=hidden,
            outputs=spec["outputs"],
            dropout=spec["dropout"],
            activation=activation,
        )

    def train(model):
        x, y = make_toy_regression(n_train, seed=data_seed)
        info = fit_regressor(
            model,
            x,
            y,
            loss=spec["loss"],
            steps=steps,
            lr=lr,
            weight_decay=spec["weight_decay"],
            progress=progress,
        )
        return {**info, "config": config}

    return train_or_load(
        f"toy_regressor_{kind}",
        config,
        build,
        train,
        directory=directory,
        code=(fit_regressor,),
    )


def select_mc_dropout_tau(
    model: MLPEnsemble,
    x_val,
    y_val,
    *,
    dropout: float,
    n_train: int,
    weight_decay: float,
    length_scales,
    n_samples: int = 100,
    seed: int = 0,
) -> dict:
    r"""Choose MC dropout's prior length-scale :math:`l` (hence :math:`\tau`).

    The choice maximises the validation log-likelihood: Gal and Ghahramani (2016) pick
    :math:`\tau` by grid search on held-out data. For each ``l`` in ``length_scales``
    this computes :math:`\tau` with :func:`trustworthy_lib.uncertainty.mc_dropout_tau`
    and the mean Gaussian NLL (full, in nats) of ``y_val`` under the MC-dropout
    predictive distribution :math:`\mathcal N(\bar y, \tau^{-1} +
    \mathrm{Var}_t[\hat y_t])`. The T stochastic passes are drawn once and shared by
    every candidate. Returns a dict with ``length_scale``, ``tau`` (the best pair), and
    ``length_scales``, ``taus``, ``nll`` (the whole grid).
    """
    from trustworthy_lib.uncertainty import mc_dropout_tau

    grid = np.asarray(length_scales, dtype=np.float64).reshape(-1)
    if grid.size == 0 or (grid <= 0).any():
        raise ValueError("length_scales must be a non-empty list of positive numbers")
    x_val, y_val = _check_xy(x_val, y_val)
    mean, _, epistemic = predict_mc_dropout(model, x_val, n_samples, tau=1.0, seed=seed)
    taus = np.array(
        [mc_dropout_tau(float(s), dropout, n_train, weight_decay) for s in grid]
    )
    var = torch.as_tensor(1.0 / taus[:, None] + epistemic[None, :])
    mu = torch.as_tensor(mean, dtype=torch.float64).expand_as(var)
    target = y_val.to(torch.float64).reshape(1, -1).expand_as(var)
    nll = gaussian_nll(mu, target, var, full=True, eps=0.0, reduction="none")
    nll = nll.mean(dim=1).numpy()
    best = int(np.argmin(nll))
    return {
        "length_scale": float(grid[best]),
        "tau": float(taus[best]),
        "length_scales": grid,
        "taus": taus,
        "nll": nll,
    }


def _grid(x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1)
    if len(x) == 0 or torch.isnan(x).any():
        raise ValueError("x must be a non-empty array of numbers without NaN")
    return x


@torch.no_grad()
def predict_mean(model: MLPEnsemble, x) -> np.ndarray:
    """The (first) output of every member in eval mode, averaged over members: (N,)."""
    device = next(model.parameters()).device
    with eval_mode(model):
        out = model(_grid(x).to(device))[..., 0].cpu().numpy()
    return out.mean(axis=0).astype(np.float64)


def predict_mc_dropout(
    model: MLPEnsemble, x, n_samples: int, tau: float, seed: int | None = None
):
    r"""MC-dropout regression: ``(mean, aleatoric, epistemic)`` variances.

    Gal and Ghahramani (2016), eq. 8: the predictive variance is
    :math:`\tau^{-1} + \frac1T\sum_t \hat y_t^2 - \bar y^2`. The aleatoric part is the
    constant :math:`\tau^{-1}` (the model assumes the same noise everywhere), the
    epistemic part the variance of the T stochastic passes.
    """
    if tau <= 0:
        raise ValueError(f"tau must be positive, got {tau}")
    with torch_threads(1):
        samples = mc_dropout_samples(
            model, _grid(x), n_samples, seed=seed
        )  # (T, 1, N, 1)
    means = samples[:, 0, :, 0]
    return variance_decomposition(means, 1.0 / tau)


@torch.no_grad()
def predict_gaussian(model: MLPEnsemble, x):
    """Heteroscedastic net or ensemble: ``(mean, aleatoric, epistemic)`` variances.

    They come from the members' predicted means and variances: aleatoric is the mean
    of the members' variances, epistemic the variance of their means (zero for a single
    net), as in Lakshminarayanan et al. (2017).
    """
    device = next(model.parameters()).device
    with eval_mode(model):
        mean, var = model.mean_var(_grid(x).to(device))
    return variance_decomposition(mean.cpu().numpy(), var.cpu().numpy())


# ---------------------------------------------------------------------------
# Plotting helpers for the chapter


def shade_data_regions(ax, x_range=X_RANGE, gaps=GAPS, xlim=(-5.0, 5.0)):
    """Shade where the toy data has no points.

    The gaps are light grey, the regions outside ``x_range`` darker.
    """
    lo, hi = x_range
    ax.axvspan(xlim[0], lo, color="0.85", zorder=0, label="no data (extrapolation)")
    ax.axvspan(hi, xlim[1], color="0.85", zorder=0)
    for i, (a, b) in enumerate(gaps):
        ax.axvspan(
            a, b, color="0.93", zorder=0, label="no data (gap)" if i == 0 else None
        )
    ax.set_xlim(*xlim)
    return ax


def plot_mean_and_band(
    ax, x, mean, var, *, color: str, label: str, k: float = 2.0, alpha: float = 0.3
):
    """Plot ``mean`` and a band of ``k`` standard deviations on ``ax``.

    The band is ``mean +- k * sqrt(var)``.
    """
    x = np.asarray(x).reshape(-1)
    mean = np.asarray(mean).reshape(-1)
    std = np.sqrt(np.asarray(var).reshape(-1))
    ax.fill_between(
        x,
        mean - k * std,
        mean + k * std,
        color=color,
        alpha=alpha,
        linewidth=0,
        label=label,
    )
    ax.plot(x, mean, color=color, linewidth=1.5)
    return ax


@torch.no_grad()
def predict_members(model: MLPEnsemble, x) -> tuple[np.ndarray, np.ndarray]:
    """Each member's predicted mean and variance on ``x``, two arrays of shape (M, N).

    The raw material of :func:`predict_gaussian`, for learners who want to do the law of
    total variance themselves. Needs a mean-and-variance net (``outputs=2``).
    """
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        mean, var = model.mean_var(_grid(x).to(device))
    finally:
        model.train(was)
    return mean.cpu().numpy().astype(np.float64), var.cpu().numpy().astype(np.float64)
