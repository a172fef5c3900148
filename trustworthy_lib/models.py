"""The workbook's small Fashion-MNIST CNN, its trainer, and an on-disk model cache.

Models are trained once and reused across chapters. :func:`train_or_load` keys the
cache by a model name plus a JSON configuration (which must include the seed), so a
warm build loads weights instead of retraining, and a cold build retrains the same
weights deterministically. Weights are stored with safetensors, never pickled.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from trustworthy_lib import training
from trustworthy_lib._cache import (
    CacheWarning,
    atomic_path,
    sha256_file,
    write_text_atomic,
)
from trustworthy_lib.training import BatchLoss, ShuffledBatches, fit
from trustworthy_lib.utils import eval_mode, get_device

__all__ = [
    "cache_dir",
    "config_key",
    "encode_labels",
    "extract_features",
    "predict_logits",
    "SmallCNN",
    "train_classifier",
    "train_or_load",
    "training_code_version",
    "workbook_cnn",
    "WORKBOOK_TRAIN_PER_CLASS",
]


class SmallCNN(nn.Module):
    """Two conv blocks and a 2-layer head, as in the lesson's Fashion-MNIST OOD episode.

    ``conv(1->32) -> maxpool -> ReLU -> conv(32->64) -> maxpool -> ReLU -> flatten ->
    dropout -> linear(3136->128) -> ReLU -> dropout -> linear(128->num_classes)``.

    :meth:`features` returns the 128-dimensional penultimate activations used by the
    distance-based OOD detectors. Inputs may be (N, 28, 28) or (N, 1, 28, 28).

    Two choices make it fast on a CPU without changing what it computes. Max-pooling
    comes before the ReLU: ReLU is monotone, so ``maxpool(relu(x)) == relu(maxpool(x))``
    exactly, and the ReLU then runs on a quarter of the values. The convolution weights
    are stored channels-last (NHWC), the layout in which oneDNN's convolutions and
    pooling are fastest: a training step takes about two thirds of the time
    (``benchmarks/cnn_layout.py``). The state dict is the usual one.
    """

    def __init__(self, num_classes: int = 2, dropout: float = 0.25, hidden: int = 128):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.num_classes = num_classes
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Flatten(),  # in (channel, row, column) order, whatever the layout
        )
        self.fc = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(64 * 7 * 7, hidden), nn.ReLU()
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        self.to(memory_format=torch.channels_last)  # conv weights only: they are 4-D

    @staticmethod
    def _as_4d(x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(
                "expected images of shape (N, 28, 28) or (N, 1, 28, 28), "
                f"got {tuple(x.shape)}"
            )
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the penultimate (post-ReLU) activations, shape (N, hidden)."""
        return self.fc(self.conv(self._as_4d(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def encode_labels(y, classes) -> np.ndarray:
    """Map original class ids to 0..K-1 in the order of ``classes``.

    >>> encode_labels([5, 0, 5], classes=(0, 5)).tolist()
    [1, 0, 1]
    """
    y = np.asarray(y)
    classes = np.asarray(classes)
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise ValueError(
            f"labels contain class id(s) {unknown.tolist()} that are not in "
            f"classes={classes.tolist()}"
        )
    lookup = np.full(int(max(classes.max(), y.max())) + 1, -1, dtype=np.int64)
    lookup[classes] = np.arange(len(classes))
    return lookup[y]


def _as_tensor(x, dtype=torch.float32) -> torch.Tensor:
    return (
        x.to(dtype)
        if isinstance(x, torch.Tensor)
        else torch.as_tensor(np.asarray(x), dtype=dtype)
    )


def train_classifier(
    model: nn.Module,
    x,
    y,
    *,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: torch.device | str | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
) -> dict:
    """Train ``model`` with Adam on (x, y) and return its history.

    Labels must already be 0..C-1 (see :func:`encode_labels`). The loop is
    :func:`trustworthy_lib.training.fit`; ``loss_fn(logits, y)`` (cross-entropy by
    default) is minimised on minibatches whose order comes from a generator seeded with
    ``seed``, so two runs give the same weights on the CPU. A tqdm bar shows progress
    over epochs. Returns a dict with the mean training loss and accuracy per epoch and
    the wall time in seconds. The model is left in eval mode on ``device``.
    """
    x = _as_tensor(x)
    y = _as_tensor(y, torch.long)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    if len(x) == 0:
        raise ValueError("cannot train on an empty data set")
    if torch.isnan(x).any():
        raise ValueError("x contains NaN values")
    loss_fn = loss_fn or nn.functional.cross_entropy

    def batch_loss(model: nn.Module, batch) -> BatchLoss:
        xb, yb = batch
        logits = model(xb)
        correct = (logits.argmax(1) == yb).sum()
        return BatchLoss(loss_fn(logits, yb), len(yb), {"accuracy": correct})

    history = fit(
        model,
        batch_loss,
        ShuffledBatches(len(x), batch_size, lambda idx: (x[idx], y[idx]), seed=seed),
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        device=device,
        progress=progress,
        desc=f"training {type(model).__name__}",
    )
    return {
        "loss": history["loss"],
        "accuracy": history.get("accuracy", []),
        "train_seconds": history["train_seconds"],
    }


# Code whose source is part of every cache key, so that an edit to it retrains every
# cached model: the shared loop (the whole module), the classifier built on it, and the
# workbook's CNN (a change of its layers or layout would otherwise load stale weights).
_TRAINING_LOOPS: tuple[Callable | ModuleType, ...] = (
    training,
    train_classifier,
    SmallCNN,  # its layers and weight layout decide the trained weights too
)


@torch.no_grad()
def predict_logits(
    model: nn.Module, x, batch_size: int = 2048, device=None
) -> np.ndarray:
    """Return the model's logits for ``x`` as a float32 array (eval mode, batched)."""
    return _batched(model, model.forward, x, batch_size, device)


@torch.no_grad()
def extract_features(
    model: nn.Module, x, batch_size: int = 2048, device=None
) -> np.ndarray:
    """Return ``model.features(x)`` (penultimate activations) as a float32 array."""
    if not hasattr(model, "features"):
        raise TypeError(f"{type(model).__name__} has no .features() method")
    return _batched(model, model.features, x, batch_size, device)


def _batched(model, fn, x, batch_size, device) -> np.ndarray:
    x = _as_tensor(x)
    device = (
        torch.device(device) if device is not None else next(model.parameters()).device
    )
    with eval_mode(model):
        out = [
            fn(x[i : i + batch_size].to(device)).float().cpu()
            for i in range(0, len(x), batch_size)
        ]
    return torch.cat(out).numpy()


# ---------------------------------------------------------------------------
# Cache


def cache_dir() -> Path:
    """Where cached models live: ``$TRUSTWORTHY_CACHE``, else the repo's ``_cache/``."""
    env = os.environ.get("TRUSTWORTHY_CACHE")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "_cache"


def _code_text(code) -> str:
    """Bytecode, names and constants of a code object, nested code too, no addresses."""
    consts = [_code_text(c) if inspect.iscode(c) else repr(c) for c in code.co_consts]
    return repr((code.co_code, code.co_names, consts))


def _source(fn) -> str:
    """What decides ``fn``'s behaviour: its source, or its bytecode for a lambda or when
    no source file exists (a lambda's source line would include the code around it)."""
    if getattr(fn, "__name__", "") != "<lambda>":
        try:
            return inspect.getsource(fn)
        except (OSError, TypeError):
            pass
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object: its class decides
        return f"{type(fn).__module__}.{type(fn).__qualname__}"
    return _code_text(code)


def training_code_version(*functions: Callable) -> str:
    """A SHA-256 (16 hex digits) of the source of the training loops and ``functions``.

    The loops are the shared one (the whole :mod:`trustworthy_lib.training` module) and
    :func:`train_classifier`; :class:`SmallCNN` counts too. The version is part of
    every cache key, so editing them
    (or the ``build`` and ``train`` functions handed to :func:`train_or_load`) retrains
    instead of reusing weights made by the old code.
    """
    h = hashlib.sha256()
    for fn in (*_TRAINING_LOOPS, *functions):
        h.update(_source(fn).encode())
    return h.hexdigest()[:16]


def config_key(name: str, config: dict, code: tuple[Callable, ...] = ()) -> str:
    """The cache key: a SHA-256 of the name, the config (as sorted JSON), the torch
    version and :func:`training_code_version` of the training code (``code``)."""
    payload = json.dumps(
        {
            "name": name,
            "config": config,
            "torch": torch.__version__.split("+")[0],
            "code": training_code_version(*code),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _load_verified(model: nn.Module, weights: Path, meta: Path) -> dict | None:
    """Load cached weights into ``model`` and return their info, or None if unusable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        record = json.loads(meta.read_text())
        digest = sha256_file(weights)
        if digest != record["sha256"]:
            raise ValueError(
                f"its SHA-256 is {digest[:12]}..., "
                f"the record says {record['sha256'][:12]}..."
            )
        model.load_state_dict(load_file(str(weights)), strict=True)
        return record["info"]
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        RuntimeError,
        SafetensorError,
    ) as err:
        warnings.warn(
            f"cached model {weights.name} is corrupt or incomplete ({err}); "
            "retraining it",
            CacheWarning,
            stacklevel=3,
        )
        return None


def train_or_load(
    name: str,
    config: dict,
    build: Callable[[], nn.Module],
    train: Callable[[nn.Module], dict],
    *,
    directory: Path | str | None = None,
    device=None,
    code: tuple[Callable, ...] = (),
) -> tuple[nn.Module, dict]:
    """Return a trained model from the cache, training and caching it on a miss.

    Parameters
    ----------
    name:
        A short model name, used in the file name.
    config:
        Everything that determines the weights, as JSON-serialisable values, including
        ``"seed"``. A change to any value trains a new model.
    build:
        Called with no arguments to make an untrained model. It is called under
        ``torch.manual_seed(config["seed"])`` inside :func:`torch.random.fork_rng`, so
        the initial weights are reproducible and the global RNG state is left untouched.
    train:
        Called with the model on a cache miss; returns a JSON-serialisable info dict
        (for example the history from :func:`train_classifier`).
    code:
        Further functions whose source decides the weights (a training loop that
        ``train`` calls). Their source, with that of ``build``, ``train``, the shared
        loop (:mod:`trustworthy_lib.training`) and :func:`train_classifier`, is part of
        the key (:func:`training_code_version`).

    The weights file's SHA-256 is stored next to it and checked on load; a corrupt or
    partial file is reported with a :class:`~trustworthy_lib._cache.CacheWarning` and
    retrained. Both files are written atomically (temporary file, then rename), the
    record last, so a crash never leaves a record pointing at half-written weights.

    Returns
    -------
    (model, info)
        The model in eval mode on ``device`` and the info dict, with ``"cached"`` set to
        whether it came from disk. ``info`` keeps the training time measured when the
        model was first trained.
    """
    from safetensors.torch import save_file

    if "seed" not in config:
        raise ValueError(
            "config must include a 'seed' so that the cache key pins the weights"
        )
    device = torch.device(device) if device is not None else get_device()
    key = config_key(name, config, code=(build, train, *code))
    folder = Path(directory) if directory is not None else cache_dir()
    weights = folder / f"{name}-{key}.safetensors"
    meta = folder / f"{name}-{key}.json"

    def fresh() -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(config["seed"]))
            return build()

    model = fresh()
    if weights.is_file() and meta.is_file():
        info = _load_verified(model, weights, meta)
        if info is not None:
            info["cached"] = True
            return model.to(device).eval(), info
        model = fresh()  # a failed load may have filled some tensors
    model.to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(config["seed"]))
        info = dict(train(model) or {})
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp))
    record = {
        "name": name,
        "config": config,
        "info": info,
        "sha256": sha256_file(weights),
    }
    write_text_atomic(meta, json.dumps(record, indent=2, sort_keys=True))
    info["cached"] = False
    return model.eval(), info


# ---------------------------------------------------------------------------
# The workbook's shared Fashion-MNIST CNN


#: Training images per class of the workbook's CNN: the first 5,000 of each class in the
#: pack. The remaining 1,000 per class are the validation split that chapters fit
#: temperatures and thresholds on, so nothing is ever fitted on the test images.
WORKBOOK_TRAIN_PER_CLASS = 5000


def workbook_cnn(
    id_classes=(0, 1),
    *,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
    dropout: float = 0.25,
    train_per_class: int | None = WORKBOOK_TRAIN_PER_CLASS,
    seed: int = 0,
    device=None,
    progress: bool = True,
    directory: Path | str | None = None,
) -> tuple[SmallCNN, dict]:
    """Return the workbook's Fashion-MNIST :class:`SmallCNN`, trained once and cached.

    The OOD and model-release chapters call it with the same arguments and so share one
    set of weights (trained once per seed). It trains on the first ``train_per_class``
    training images of each of ``id_classes`` in the shipped pack (labels encoded
    0..K-1 in that order; ``None``: all of them) and keys the cache by every argument
    that changes the weights. By default the last 1,000 training images of each class
    are left out, as a validation split (:data:`WORKBOOK_TRAIN_PER_CLASS`). ``info``
    holds the training history, including ``train_seconds`` from the run that trained
    it.
    """
    from trustworthy_lib.data import load_fashion_mnist

    id_classes = [int(c) for c in id_classes]
    config = {
        "id_classes": id_classes,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "dropout": dropout,
        "train_per_class": train_per_class,
        "seed": seed,
    }

    def train(model):
        splits = load_fashion_mnist(
            id_classes=id_classes, ood_classes=(), train_per_class=train_per_class
        )
        y = encode_labels(splits.y_train, id_classes)
        return train_classifier(
            model,
            splits.x_train,
            y,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            device=device,
            progress=progress,
        )

    return train_or_load(
        "fashion_cnn",
        config,
        lambda: SmallCNN(num_classes=len(id_classes), dropout=dropout),
        train,
        directory=directory,
        device=device,
    )
