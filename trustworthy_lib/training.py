"""The one training loop behind the package's trainers.

:func:`fit` owns what every trainer repeats: the device move, train and eval mode, the
Adam step (with an optional cosine learning-rate decay), the tqdm bar, the history of
losses and the wall time. A trainer supplies only its batches and a ``batch_loss``:

* :func:`trustworthy_lib.models.train_classifier` -- shuffled minibatches
  (:class:`ShuffledBatches`), cross-entropy, accuracy counted per batch;
* :func:`trustworthy_lib.contrastive.train_contrastive` -- shuffled minibatches of two
  augmented views, the supervised contrastive loss;
* :func:`trustworthy_lib.regression.fit_regressor` -- one full batch per "epoch" (so an
  epoch is a step), MSE or Gaussian NLL plus an L2 penalty, cosine decay.

The loop draws no random numbers itself: batch orders come from the batch source's own
generator and dropout from the global one, so a seeded run is reproducible. Its source
is part of every model-cache key (:func:`trustworthy_lib.models.training_code_version`):
an edit here retrains every cached model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, NamedTuple, Protocol

import torch
from torch import nn

from trustworthy_lib.utils import get_device

__all__ = ["BatchLoss", "ShuffledBatches", "fit"]


class BatchLoss(NamedTuple):
    """What a ``batch_loss`` function returns to :func:`fit` for one batch.

    Attributes
    ----------
    loss:
        The batch's mean loss, a scalar tensor. It is minimised and recorded: the
        epoch's ``history["loss"]`` is its mean over the epoch's examples.
    size:
        How many examples the batch holds (the weight of ``loss`` in that mean). For a
        full-batch trainer, whose epoch is one step, any positive number will do.
    counts:
        Totals over the batch of further statistics, e.g. ``{"accuracy": number of
        correct predictions}`` (tensors or numbers). ``history[name]`` is the epoch's
        total divided by the epoch's examples.
    penalty:
        A regulariser added to ``loss`` for the gradient but not recorded (e.g.
        :math:`\\lambda \\sum \\lVert W \\rVert^2`), or None.
    """

    loss: torch.Tensor
    size: int = 1
    counts: Mapping[str, torch.Tensor | int | float] = {}
    penalty: torch.Tensor | None = None


class _Batches(Protocol):
    """A re-iterable with a length: a list, a DataLoader, :class:`ShuffledBatches`."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class ShuffledBatches:
    """Minibatches of ``size`` examples in a new random order every epoch.

    Each iteration (one epoch) draws ``torch.randperm(size)`` from a CPU generator
    seeded once with ``seed`` and yields ``take(indices)`` for consecutive slices of
    ``batch_size`` indices (the last one may be shorter). ``len()`` is the number of
    batches per epoch.

    >>> batches = ShuffledBatches(5, 2, lambda idx: idx.tolist(), seed=0)
    >>> len(batches), sorted(sum(list(batches), []))
    (3, [0, 1, 2, 3, 4])
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        take: Callable[[torch.Tensor], Any],
        *,
        seed: int,
    ):
        if size < 1:
            raise ValueError("cannot train on an empty data set; pass at least one row")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise ValueError(f"batch_size must be an integer, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.size, self.batch_size, self.take = size, batch_size, take
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        order = torch.randperm(self.size, generator=self.generator)
        for i in range(0, self.size, self.batch_size):
            yield self.take(order[i : i + self.batch_size])


def _to(batch: Any, device: torch.device) -> Any:
    """Move a batch's tensors (a tensor, or a tuple or list of them) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        items = [_to(item, device) for item in batch]
        return type(batch)(*items) if hasattr(batch, "_fields") else type(batch)(items)
    return batch


def fit(
    model: nn.Module,
    batch_loss: Callable[[nn.Module, Any], BatchLoss],
    batches: _Batches,
    *,
    epochs: int,
    lr: float,
    weight_decay: float = 0.0,
    final_lr: float | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    desc: str = "training",
    bar_per: Literal["epoch", "step"] = "epoch",
) -> dict[str, Any]:
    """Train ``model`` with Adam for ``epochs`` passes over ``batches``.

    Parameters
    ----------
    model:
        The network; it is moved to ``device``, put in train mode at the start of
        every epoch and left in eval mode.
    batch_loss:
        ``batch_loss(model, batch)`` runs the forward pass on one batch (already on
        ``device``) and returns a :class:`BatchLoss`.
    batches:
        One epoch's batches, iterated afresh every epoch; anything with a length that
        can be iterated more than once (a list, a DataLoader, :class:`ShuffledBatches`).
        Tensors in a batch (or in a tuple or list) are moved to ``device``.
    epochs:
        Passes over ``batches``; 0 leaves the model untrained.
    lr, weight_decay:
        Adam's learning rate and (gradient) weight decay.
    final_lr:
        If given, the learning rate decays from ``lr`` to ``final_lr`` on a cosine over
        all steps (:class:`torch.optim.lr_scheduler.CosineAnnealingLR`).
    device:
        Where to train; None picks :func:`trustworthy_lib.utils.get_device`.
    progress, desc, bar_per:
        Show a tqdm bar labelled ``desc`` that advances once per epoch (with the
        epoch's means) or once per step (with the step's loss).

    Returns
    -------
    dict
        ``"loss"``: the mean loss of each epoch (weighted by batch size); one list per
        name in :attr:`BatchLoss.counts`, each the epoch's total over its examples; and
        ``"train_seconds"``, the wall time of the loop.

    Raises
    ------
    ValueError
        If ``batches`` is empty, ``epochs`` is negative or ``bar_per`` is unknown.
    FloatingPointError
        If a batch's loss is NaN or infinite (the model diverged).
    """
    from tqdm.auto import tqdm

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if bar_per not in ("epoch", "step"):
        raise ValueError(f"bar_per must be 'epoch' or 'step', got {bar_per!r}")
    steps_per_epoch = len(batches)
    if steps_per_epoch == 0:
        raise ValueError("batches is empty: there is nothing to train on")
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=epochs * steps_per_epoch, eta_min=final_lr
        )
        if final_lr is not None
        else None
    )
    history: dict[str, Any] = {"loss": []}
    bar = tqdm(
        total=epochs if bar_per == "epoch" else epochs * steps_per_epoch,
        desc=desc,
        disable=not progress,
        leave=False,
    )
    start = time.perf_counter()
    try:
        for epoch in range(epochs):
            model.train()
            seen, total, counts = 0, 0.0, {}
            for step, batch in enumerate(batches):
                opt.zero_grad()
                out = batch_loss(model, _to(batch, device))
                objective = out.loss if out.penalty is None else out.loss + out.penalty
                objective.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                value = out.loss.item()
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"the loss is {value} at epoch {epoch}, step {step}: the model "
                        "diverged; lower lr or check the inputs"
                    )
                seen += out.size
                total += value * out.size
                for name, count in out.counts.items():
                    count = count.item() if isinstance(count, torch.Tensor) else count
                    counts[name] = counts.get(name, 0) + count
                if bar_per == "step":
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.3f}", refresh=False)
            history["loss"].append(total / seen)
            for name, count in counts.items():
                history.setdefault(name, []).append(count / seen)
            if bar_per == "epoch":
                bar.update(1)
                bar.set_postfix(
                    {k: f"{v[-1]:.3f}" for k, v in history.items()}, refresh=False
                )
    finally:
        bar.close()
        model.eval()
    history["train_seconds"] = time.perf_counter() - start
    return history
