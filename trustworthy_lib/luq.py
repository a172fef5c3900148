"""A thin adapter between the workbook and Lightning UQ Box (Lehmann et al., 2024).

Lightning UQ Box ("LUQ") wraps each uncertainty method in a
:class:`lightning.LightningModule` that reads *dictionary* batches,
``{"input": x, "target": y}``, and is trained by a :class:`lightning.Trainer`.
This module holds the plumbing the toolbox chapter would otherwise repeat:

* :class:`DictDataset`, :func:`dict_loader` and :class:`DictDataModule` turn NumPy
  arrays into dictionary batches (the data module also offers the calibration loader
  that LUQ's conformal methods ask for);
* :func:`quiet_lightning` and :func:`quiet_trainer` run Lightning without a progress
  bar, model summary, logger, checkpoints, "Tip" banners or any other output;
* :func:`fit_quietly` trains a LUQ module and returns the wall time;
* :func:`luq_train_or_load` caches a trained LUQ module through
  :func:`trustworthy_lib.models.train_or_load` (safetensors, keyed by configuration
  and seed), together with the few plain attributes a LUQ module keeps outside its
  ``state_dict`` (such as SWAG's snapshot count), so a warm build does not retrain;
* :func:`predict_dict` runs a LUQ module's ``predict_step`` in batches and returns
  NumPy arrays.

Nothing here changes global state at import time.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

__all__ = [
    "INPUT_KEY",
    "TARGET_KEY",
    "dict_loader",
    "DictDataModule",
    "DictDataset",
    "fit_quietly",
    "HalfMSE",
    "luq_deep_ensemble",
    "luq_train_or_load",
    "member_as_sequential",
    "predict_dict",
    "quiet_lightning",
    "quiet_trainer",
    "regression_report",
    "SoftplusLogVariance",
    "test_quietly",
    "timed_predict",
    "train_luq",
    "without_training_metrics",
]


INPUT_KEY = "input"
TARGET_KEY = "target"

_LIGHTNING_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning_fabric",
)


def _as_float_tensor(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.dim() == 1:
        t = t[:, None]
    if t.dim() != 2:
        raise ValueError(f"{name} must have shape (N,) or (N, D), got {tuple(t.shape)}")
    if len(t) == 0:
        raise ValueError(f"{name} is empty; pass at least one row")
    if torch.isnan(t).any():
        raise ValueError(f"{name} contains NaN values; drop or impute them first")
    return t


class DictDataset(Dataset):
    """Rows of ``x`` and ``y`` as dictionaries ``{"input": x[i], "target": y[i]}``.

    ``x`` becomes float32 of shape (N, D) (a 1-D array is read as one feature). For
    ``task="regression"`` the target is float32 of shape (N, 1), as LUQ's regression
    losses expect; for ``task="classification"`` it is an int64 class index of
    shape (N,), as :func:`torch.nn.functional.cross_entropy` expects.
    """

    def __init__(self, x, y, task: str = "regression"):
        if task not in ("regression", "classification"):
            raise ValueError(
                f"task must be 'regression' or 'classification', got {task!r}"
            )
        self.x = _as_float_tensor(x, "x")
        y = np.asarray(y)
        if task == "regression":
            self.y = _as_float_tensor(y, "y")
            if self.y.shape[1] != 1:
                raise ValueError(
                    f"regression targets must be one column, got {tuple(self.y.shape)}"
                )
        else:
            if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(
                    f"classification targets must be a 1-D array of integer class ids, "
                    f"got dtype {y.dtype} and shape {y.shape}"
                )
            self.y = torch.as_tensor(y, dtype=torch.long)
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} rows but y has {len(self.y)}")
        self.task = task

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {INPUT_KEY: self.x[i], TARGET_KEY: self.y[i]}


def dict_loader(
    x,
    y,
    *,
    task: str = "regression",
    batch_size: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
) -> DataLoader:
    """A :class:`~torch.utils.data.DataLoader` of dictionary batches over ``(x, y)``.

    ``batch_size=None`` gives one full batch. With ``shuffle=True`` the order comes
    from a generator seeded with ``seed``. The global random state is never used, even
    without shuffling, so training draws the same dropout masks as a plain loop would;
    two loaders with the same seed give the same batches.
    """
    data = DictDataset(x, y, task=task)
    if batch_size is None:
        batch_size = len(data)
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            f"batch_size must be a positive integer or None, got {batch_size!r}"
        )
    # A loader draws a base seed from its generator each time it is iterated; with no
    # generator of its own it would draw from (and so change) torch's global RNG.
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)


def _datamodule_class():
    from lightning import LightningDataModule

    class _DictDataModule(LightningDataModule):
        def __init__(
            self,
            train,
            val,
            *,
            calib=None,
            test=None,
            task="regression",
            batch_size=None,
            seed=0,
        ):
            super().__init__()
            self.task, self.batch_size, self.seed = task, batch_size, int(seed)
            self.splits = {
                "train": train,
                "val": val,
                "calib": calib if calib is not None else val,
                "test": test,
            }
            for name, split in self.splits.items():
                if split is None:
                    continue
                if len(split) != 2:
                    raise ValueError(
                        f"{name} must be a pair (x, y), got {len(split)} items"
                    )
                DictDataset(
                    *split, task=task
                )  # validates shapes and NaNs now, not mid-fit

        def _loader(self, name: str, shuffle: bool) -> DataLoader:
            split = self.splits[name]
            if split is None:
                raise ValueError(
                    f"this data module has no {name} split; pass {name}=(x, y)"
                )
            return dict_loader(
                *split,
                task=self.task,
                batch_size=self.batch_size,
                shuffle=shuffle,
                seed=self.seed,
            )

        def train_dataloader(self) -> DataLoader:
            return self._loader("train", shuffle=self.batch_size is not None)

        def val_dataloader(self) -> DataLoader:
            return self._loader("val", shuffle=False)

        def calib_dataloader(self) -> DataLoader:
            return self._loader("calib", shuffle=False)

        def test_dataloader(self) -> DataLoader:
            return self._loader("test", shuffle=False)

    return _DictDataModule


def DictDataModule(
    train,
    val,
    *,
    calib=None,
    test=None,
    task: str = "regression",
    batch_size: int | None = None,
    seed: int = 0,
):
    """A Lightning data module over NumPy splits, in dictionary batches.

    ``train``, ``val``, ``calib`` and ``test`` are pairs ``(x, y)``. ``calib``
    (LUQ's conformal methods ask for ``calib_dataloader()``) defaults to ``val``.
    The training loader is shuffled with a generator seeded by ``seed`` when
    ``batch_size`` is set; ``batch_size=None`` uses one full batch per split.
    Lightning is imported only when this is called.
    """
    return _datamodule_class()(
        train, val, calib=calib, test=test, task=task, batch_size=batch_size, seed=seed
    )


@contextlib.contextmanager
def quiet_lightning() -> Iterator[io.StringIO]:
    """Silence Lightning (and the progress bars LUQ's helpers print) inside the block.

    Lightning's loggers are raised to ERROR (no "GPU available", no "Tip" banners),
    warnings raised from ``lightning``, ``lightning_uq_box``, ``laplace`` and
    ``torchmetrics`` modules are ignored, and ``sys.stdout``/``sys.stderr`` are
    captured into the yielded buffer (read it to debug). Errors still raise. The
    logger levels and warning filters are restored on exit.
    """
    saved = {name: logging.getLogger(name).level for name in _LIGHTNING_LOGGERS}
    buffer = io.StringIO()
    try:
        for name in _LIGHTNING_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings():
            for module in (
                r"lightning",
                r"pytorch_lightning",
                r"lightning_uq_box",
                r"laplace",
                r"torchmetrics",
                r"uncertainty_toolbox",
            ):
                warnings.filterwarnings("ignore", module=module + r"(\..*)?$")
            # LUQ's import scripts a function with torch.jit, which torch now deprecates
            warnings.filterwarnings(
                "ignore", message=r".*torch\.jit\.script.*deprecated"
            )
            with contextlib.redirect_stderr(buffer), contextlib.redirect_stdout(buffer):
                yield buffer
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def quiet_trainer(
    max_epochs: int, *, device=None, root_dir: str | Path | None = None, **kwargs
):
    """A :class:`lightning.Trainer` that prints nothing and writes nothing you keep.

    No progress bar, model summary, logger or checkpoints; one device, the one
    :func:`trustworthy_lib.get_device` chooses (CUDA when present) unless ``device``
    is given. ``root_dir`` (a fresh temporary folder by default) receives the CSV files
    LUQ's ``test`` steps write. ``kwargs`` go to the Trainer (for example
    ``check_val_every_n_epoch``). Build and use it inside :func:`quiet_lightning`
    (:func:`fit_quietly` does both) so that Lightning's messages stay off stderr.
    """
    from lightning import Trainer

    from trustworthy_lib.utils import get_device

    if (
        isinstance(max_epochs, bool)
        or not isinstance(max_epochs, int)
        or max_epochs < 1
    ):
        raise ValueError(f"max_epochs must be a positive integer, got {max_epochs!r}")
    device = torch.device(device) if device is not None else get_device()
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    devices = [device.index or 0] if device.type == "cuda" else 1
    if root_dir is None:
        root_dir = tempfile.mkdtemp(prefix="luq-")
    settings = {
        "max_epochs": max_epochs,
        "accelerator": accelerator,
        "devices": devices,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "logger": False,
        "enable_checkpointing": False,
        "default_root_dir": str(root_dir),
        "num_sanity_val_steps": 0,
    }
    settings.update(kwargs)
    with quiet_lightning():
        return Trainer(**settings)


def fit_quietly(
    module,
    datamodule=None,
    *,
    max_epochs: int,
    train_dataloaders=None,
    device=None,
    **trainer_kwargs,
) -> float:
    """Train a LUQ module with :func:`quiet_trainer`; return the wall time in seconds.

    Pass a ``datamodule`` (LUQ's SNGP and Laplace read the training set from it) or
    ``train_dataloaders`` (LUQ's conformal methods are "trained" on a calibration
    loader). The module is left in eval mode on the CPU or the chosen device.
    """
    with quiet_lightning():
        trainer = quiet_trainer(max_epochs, device=device, **trainer_kwargs)
        start = time.perf_counter()
        if datamodule is not None:
            trainer.fit(module, datamodule=datamodule)
        else:
            trainer.fit(module, train_dataloaders=train_dataloaders)
        seconds = time.perf_counter() - start
    module.eval()
    return seconds


def test_quietly(module, datamodule, *, device=None) -> float:
    """Run ``trainer.test`` quietly; return the wall time in seconds.

    LUQ's Laplace modules fit their posterior at the start of the test loop.
    """
    with quiet_lightning():
        trainer = quiet_trainer(1, device=device)
        start = time.perf_counter()
        trainer.test(module, datamodule=datamodule, verbose=False)
        seconds = time.perf_counter() - start
    module.eval()
    return seconds


def luq_train_or_load(
    name: str,
    config: dict,
    build: Callable[[], torch.nn.Module],
    train: Callable[[torch.nn.Module], dict],
    *,
    attributes: Sequence[str] = (),
    directory=None,
    device=None,
):
    """Train a LUQ module once and cache it (see :func:`models.train_or_load`).

    The weights and buffers go to a safetensors file keyed by ``name`` and ``config``
    (which must hold ``"seed"``). A few LUQ modules keep state outside their
    ``state_dict``: list those plain attributes (numbers, booleans or tensors) in
    ``attributes`` and they are stored with the metadata and set again on load, for
    example ``("num_tracked", "swag_fitted")`` for SWAG or ``("q_hat",
    "post_hoc_fitted")`` for conformal quantile regression. Returns ``(module, info)``
    with ``info["cached"]`` telling whether it came from disk.
    """
    from trustworthy_lib.models import train_or_load

    attributes = tuple(attributes)

    def train_and_record(module):
        info = dict(train(module) or {})
        saved = {}
        for attr in attributes:
            if not hasattr(module, attr):
                raise AttributeError(
                    f"{type(module).__name__} has no attribute {attr!r} after "
                    "training; "
                    "list only attributes the module sets"
                )
            value = getattr(module, attr)
            if isinstance(value, torch.Tensor):
                value = {"tensor": value.detach().cpu().tolist()}
            saved[attr] = value
        info["attributes"] = saved
        return info

    module, info = train_or_load(
        name,
        config,
        build,
        train_and_record,
        directory=directory,
        device=device,
        code=(train,),
    )
    for attr, value in info.get("attributes", {}).items():
        if isinstance(value, dict) and "tensor" in value:
            value = torch.tensor(value["tensor"])
        setattr(module, attr, value)
    return module, info


def predict_dict(
    module, x, *, batch_size: int = 4096, keys: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Run ``module.predict_step`` on ``x`` in batches; return NumPy arrays.

    LUQ's ``predict_step`` takes a tensor of inputs and returns a dictionary
    (``"pred"``, ``"pred_uct"``, ``"epistemic_uct"``, ...). Tensors are moved to
    the CPU, squeezed to shape (N,) where they have one column, and concatenated over
    batches; ``keys`` keeps only those entries. Gradients are not needed by most
    methods; Laplace asks for them itself.
    """
    x = _as_float_tensor(x, "x")
    first = next(
        module.parameters(), None
    )  # LUQ's Laplace and ensemble own no parameters
    device = first.device if first is not None else module.device
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(x), batch_size):
        out = module.predict_step(x[i : i + batch_size].to(device))
        for key, value in out.items():
            if keys is not None and key not in keys:
                continue
            if not isinstance(value, torch.Tensor):
                continue
            arr = value.detach().cpu().numpy()
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            parts.setdefault(key, []).append(arr)
    if keys is not None:
        missing = [k for k in keys if k not in parts]
        if missing:
            raise KeyError(
                f"{type(module).__name__}.predict_step returned no {missing}; "
                f"it returned {sorted(parts)}"
            )
    return {
        k: np.concatenate(v) if v[0].ndim else np.stack(v) for k, v in parts.items()
    }


# ---------------------------------------------------------------------------
# The workbook's regression nets, in the form LUQ expects


class SoftplusLogVariance(nn.Module):
    r"""Turn a net's raw second output into the *log*-variance that LUQ reads.

    The workbook's heteroscedastic nets predict :math:`\sigma^2 = \mathrm{softplus}(s) +
    v_{\min}` (:meth:`trustworthy_lib.regression.MLPEnsemble.mean_var`); LUQ's ``NLL``
    and ``MVERegression`` read column 1 as :math:`\log\sigma^2`. This layer maps
    ``(mu, s)`` to ``(mu, log(softplus(s) + min_var))``, so the same network gives the
    same Gaussian under both conventions.
    """

    def __init__(self, min_var: float = 1e-4):
        super().__init__()
        if not min_var >= 0:
            raise ValueError(f"min_var must be non-negative, got {min_var!r}")
        self.min_var = float(min_var)

    def forward(self, out: torch.Tensor) -> torch.Tensor:
        if out.dim() != 2 or out.shape[1] != 2:
            raise ValueError(
                f"expected (N, 2) outputs (mean, raw variance), got {tuple(out.shape)}"
            )
        var = nn.functional.softplus(out[:, 1:2]) + self.min_var
        return torch.cat([out[:, 0:1], torch.log(var)], dim=1)


class HalfMSE(nn.Module):
    r"""The workbook's squared-error loss :math:`\frac1{2N}\sum_i (y_i - \hat y_i)^2`.

    :func:`trustworthy_lib.regression.fit_regressor` minimises this (Gal's convention);
    ``torch.nn.MSELoss`` lacks the factor 1/2. Use it as a LUQ ``loss_fn`` to train
    on exactly the workbook's objective.
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(
                f"pred has shape {tuple(pred.shape)} but target has "
                f"{tuple(target.shape)}"
            )
        return 0.5 * ((pred - target) ** 2).mean()


def member_as_sequential(ensemble, member: int = 0) -> nn.Sequential:
    """Copy one member of a workbook :class:`MLPEnsemble` into plain torch layers.

    Each :class:`~trustworthy_lib.regression.StackedLinear` becomes a
    :class:`torch.nn.Linear` holding that member's weights (transposed to Linear's
    ``(out, in)`` layout); activations and dropout layers are reused as they are. A
    two-output net gets a :class:`SoftplusLogVariance` at the end. The copy predicts
    exactly what the member predicts, so a LUQ method can start from the workbook's
    initial (or trained) weights.
    """
    from trustworthy_lib.regression import StackedLinear

    if not 0 <= member < ensemble.members:
        raise ValueError(f"member must be in 0..{ensemble.members - 1}, got {member}")
    layers: list[nn.Module] = []
    for layer in ensemble.net:
        if isinstance(layer, StackedLinear):
            w = layer.weight[member].detach()
            linear = nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                linear.weight.copy_(w.t())
                linear.bias.copy_(layer.bias[member, 0].detach())
            layers.append(linear)
        else:
            layers.append(type(layer)(**_module_args(layer)))
    if ensemble.outputs == 2:
        layers.append(SoftplusLogVariance(ensemble.min_var))
    return nn.Sequential(*layers)


def _module_args(layer: nn.Module) -> dict:
    if isinstance(layer, nn.Dropout):
        return {"p": layer.p}
    return {}


# ---------------------------------------------------------------------------
# Training, ensembling and scoring LUQ models


def without_training_metrics(module):
    """Replace a LUQ module's training metrics by an empty collection; return it.

    LUQ's modules update a torchmetrics collection (RMSE, MAE, R^2... or accuracy,
    calibration error...) at every training step and compute and log it at the end of
    each epoch. Without a logger nothing reads those numbers, and on the workbook's toy
    problems, trained for hundreds of one-batch epochs, they cost about as much as the
    training itself. They never enter the loss, so the trained weights are the same.
    The validation and test metrics are kept.
    """
    from torchmetrics import MetricCollection

    if not hasattr(module, "train_metrics"):
        raise TypeError(
            f"{type(module).__name__} has no train_metrics: not a LUQ module?"
        )
    module.train_metrics = MetricCollection({})
    return module


def train_luq(
    name: str,
    config: dict,
    build: Callable[[], nn.Module],
    *,
    datamodule,
    epochs: int,
    attributes: Sequence[str] = (),
    finish: Callable | None = None,
    directory=None,
    device=None,
    **trainer_kwargs,
):
    """Build a LUQ module, train it for ``epochs`` with :func:`fit_quietly`; cache it.

    ``config`` must describe everything that changes the weights and include
    ``"seed"``; ``epochs`` is added to it. ``build`` runs under
    ``torch.manual_seed(config["seed"])`` (see
    :func:`trustworthy_lib.models.train_or_load`).
    Validation is switched off (the toy models need no early stopping).
    ``finish(module)``, if given, runs after the fit and before caching (for example
    SNGP's ``recompute_covariance_matrix``, which LUQ otherwise calls only at the end
    of a validation epoch) and its time counts as training time. Returns
    ``(module, info)``; ``info["train_seconds"]`` is the wall time of the first fit.

    LUQ's training metrics are switched off (:func:`without_training_metrics`): with no
    logger nothing reads them, and on the toy problems they take half of the training
    time. The weights are the same with or without them.
    """
    config = {**config, "epochs": int(epochs)}
    trainer_kwargs.setdefault("limit_val_batches", 0)

    def train(module):
        if hasattr(module, "train_metrics"):  # LUQ's SWAG has none
            without_training_metrics(module)
        seconds = fit_quietly(
            module, datamodule, max_epochs=int(epochs), device=device, **trainer_kwargs
        )
        if finish is not None:
            start = time.perf_counter()
            with torch.no_grad():
                finish(module)
            seconds += time.perf_counter() - start
        return {"train_seconds": seconds}

    return luq_train_or_load(
        name,
        config,
        build,
        train,
        attributes=attributes,
        directory=directory,
        device=device,
    )


def luq_deep_ensemble(
    members: Sequence[nn.Module],
    folder: str | Path | None = None,
    num_classes: int | None = None,
):
    """Wrap trained LUQ modules in LUQ's ``DeepEnsembleRegression`` (or Classification).

    LUQ's deep ensemble reads each member's weights from a Lightning-style checkpoint
    file (``{"state_dict": ...}``, loaded with ``weights_only=True``) at every forward
    pass. This writes those files into ``folder`` (a fresh temporary folder by
    default) and returns the ensemble module. They are rebuilt from the members on
    each call; the workbook's own cache keeps only safetensors files. Pass
    ``num_classes`` for a classification ensemble.
    """
    with quiet_lightning():
        from lightning_uq_box.uq_methods import (
            DeepEnsembleClassification,
            DeepEnsembleRegression,
        )

    members = list(members)
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
    folder = (
        Path(folder)
        if folder is not None
        else Path(tempfile.mkdtemp(prefix="luq-ens-"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for i, member in enumerate(members):
        path = folder / f"member-{i}.ckpt"
        state = {k: v.detach().cpu() for k, v in member.state_dict().items()}
        torch.save({"state_dict": state}, path)
        specs.append({"base_model": member, "ckpt_path": str(path)})
    if num_classes is not None:
        return DeepEnsembleClassification(specs, num_classes=int(num_classes))
    return DeepEnsembleRegression(specs)


def regression_report(
    y, mean, std, *, lower=None, upper=None, level: float = 0.9
) -> dict:
    r"""Score a probabilistic regression on held-out data.

    Returns a dict with

    * ``"NLL"``: mean Gaussian negative log-likelihood in nats,
      :math:`\frac12\log(2\pi\sigma^2) + \frac{(y-\mu)^2}{2\sigma^2}`;
    * ``"RMSE"`` of the mean;
    * ``"miscalibration area"`` from uncertainty-toolbox (0 is perfectly calibrated
      central intervals; it needs Gaussian ``mean`` and ``std``);
    * ``"coverage"`` and ``"width"`` of the central ``level`` interval: ``lower`` and
      ``upper`` when given (quantile methods), else :math:`\mu \pm z\sigma` with
      :math:`z = \Phi^{-1}((1+\text{level})/2)`.
    """
    import uncertainty_toolbox as uct
    from scipy.stats import norm

    y, mean, std = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (y, mean, std))
    if not (len(y) == len(mean) == len(std)):
        raise ValueError(
            "y, mean and std must have the same length, got "
            f"{len(y)}, {len(mean)}, {len(std)}"
        )
    if not np.all(np.isfinite(std)) or (std <= 0).any():
        raise ValueError(
            "std must be positive and finite; "
            "clip tiny values with np.maximum(std, 1e-6)"
        )
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if (lower is None) != (upper is None):
        raise ValueError("pass both lower and upper, or neither")
    if lower is None:
        z = norm.ppf(0.5 + level / 2)
        lower, upper = mean - z * std, mean + z * std
    lower, upper = (
        np.asarray(lower, np.float64).reshape(-1),
        np.asarray(upper, np.float64).reshape(-1),
    )
    with quiet_lightning():  # uncertainty-toolbox prints nothing, but be safe
        area = float(uct.metrics_calibration.miscalibration_area(mean, std, y))
    nll = 0.5 * np.log(2 * np.pi * std**2) + (y - mean) ** 2 / (2 * std**2)
    return {
        "NLL": float(nll.mean()),
        "RMSE": float(np.sqrt(np.mean((y - mean) ** 2))),
        "miscalibration area": area,
        "coverage": float(np.mean((y >= lower) & (y <= upper))),
        "width": float(np.mean(upper - lower)),
    }


def timed_predict(module, x, *, repeats: int = 3, **kwargs) -> tuple[dict, float]:
    """:func:`predict_dict` and its best wall time over ``repeats`` runs, in ms."""
    best, out = float("inf"), None
    for _ in range(max(1, int(repeats))):
        start = time.perf_counter()
        out = predict_dict(module, x, **kwargs)
        best = min(best, time.perf_counter() - start)
    return out, 1000.0 * best
