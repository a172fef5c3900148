"""Device choice and explicit seeding.

Nothing here runs at import time. Seeds are set only when a chapter calls
:func:`seed_everything`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = [
    "SEED_VARIABLE",
    "chapter_seed",
    "eval_mode",
    "get_device",
    "seed_everything",
]


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on: CUDA when available, otherwise the CPU.

    Parameters
    ----------
    prefer:
        ``"cpu"`` or ``"cuda"`` to force a choice. The environment variable
        ``TRUSTWORTHY_DEVICE`` does the same for a whole build. Asking for CUDA on a
        machine without it raises :class:`RuntimeError`.
    """
    import torch  # imported here so that a torch-free chapter does not pay for it

    choice = (prefer or os.environ.get("TRUSTWORTHY_DEVICE", "")).strip().lower()
    if choice in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {choice!r} was requested but CUDA is not available on this "
                "machine; use 'cpu' or leave the choice to get_device()"
            )
        return torch.device(choice)
    raise ValueError(f"unknown device {choice!r}; use 'cpu', 'cuda' or 'auto'")


SEED_VARIABLE = "TRUSTWORTHY_SEED"


def chapter_seed(default: int = 0) -> int:
    """Return the seed a chapter runs with: ``$TRUSTWORTHY_SEED``, or ``default`` (0).

    Every chapter starts with ``SEED = chapter_seed()``, so the whole book can be
    re-run on another seed (``make check-claims``) to check that its sentences still
    hold. Anything but a non-negative integer in the variable raises ValueError.
    """
    raw = os.environ.get(SEED_VARIABLE)
    if raw is None or raw.strip() == "":
        return int(default)
    text = raw.strip()
    if not text.isdigit():
        raise ValueError(
            f"{SEED_VARIABLE}={raw!r} is not a non-negative integer; "
            f"set it to a number such as 0, 1 or 2, or unset it to use {default}"
        )
    return int(text)


def seed_everything(seed: int, deterministic: bool = True) -> np.random.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA), and return a NumPy generator.

    Call it once at the top of a chapter. With ``deterministic=True`` PyTorch is
    asked for deterministic algorithms where they exist (``warn_only``, so an
    operation without one still runs), and cuDNN autotuning is switched off.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    import torch

    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return np.random.default_rng(seed)


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Inside this ``with`` block ``model`` is in evaluation mode; on exit every
    submodule gets back exactly the mode it had (a model with some layers in training
    mode stays so).

    >>> with eval_mode(model):  # doctest: +SKIP
    ...     logits = model(x)
    """
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes.items():
            m.training = mode
