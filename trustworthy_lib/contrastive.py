"""Contrastive feature learning: the SupCon / SimCLR loss and a small trainer.

A contrastive loss shapes a feature space directly: views of the same image (and, with
labels, images of the same class) are pulled together on the unit sphere, everything
else is pushed apart. Distance-based OOD detectors (:class:`trustworthy_lib.ood.KNN`,
:class:`trustworthy_lib.ood.Mahalanobis`) then work on that space.

* :func:`supervised_contrastive_loss` -- the supervised-contrastive (SupCon) loss of
  Khosla et al. (2020); with ``labels=None`` it is SimCLR's NT-Xent loss (Chen et al.,
  2020).
* :func:`augment` -- random, batched image augmentations (shift, scale, flip, contrast).
* :class:`ContrastiveCNN` -- the workbook's :class:`~trustworthy_lib.models.SmallCNN`
  backbone with a projection head instead of a classifier.
* :func:`train_contrastive` -- the trainer (on :func:`trustworthy_lib.training.fit`);
  :func:`contrastive_cnn` trains once and caches with
  :func:`~trustworthy_lib.models.train_or_load`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from trustworthy_lib.models import SmallCNN, _as_tensor, encode_labels, train_or_load
from trustworthy_lib.training import BatchLoss, ShuffledBatches, fit

__all__ = [
    "ContrastiveCNN",
    "augment",
    "contrastive_cnn",
    "supervised_contrastive_loss",
    "train_contrastive",
]


def supervised_contrastive_loss(
    features: torch.Tensor, labels=None, temperature: float = 0.1
) -> torch.Tensor:
    r"""Supervised contrastive loss (SupCon), or SimCLR's NT-Xent without labels.

    SupCon is the loss of Khosla et al. (2020). Every view of every sample is an anchor
    :math:`i`. Its positives :math:`P(i)` are the other views of the same sample and,
    when ``labels`` are given, every view of every sample with the same label;
    :math:`A(i)` is every view except :math:`i` itself. With L2-normalised embeddings
    :math:`z`,

    .. math::
        \mathcal{L} = \frac{1}{|I|} \sum_{i \in I} \frac{-1}{|P(i)|} \sum_{p \in P(i)}
        \log \frac{\exp(z_i \cdot z_p / \tau)}
                   {\sum_{a \in A(i)} \exp(z_i \cdot z_a / \tau)}

    (the :math:`\mathcal{L}^{sup}_{out}` form of Khosla et al., *Supervised Contrastive
    Learning*, NeurIPS 2020). Anchors without any positive are left out of the mean.
    With ``labels=None`` and two views this is the NT-Xent loss of SimCLR (Chen et al.,
    *A Simple Framework for Contrastive Learning of Visual Representations*, ICML 2020).

    Parameters
    ----------
    features:
        Tensor of shape (N, V, D): V >= 1 views of each of N samples, D-dimensional.
        They are L2-normalised here. A (N, D) tensor is read as one view per sample.
    labels:
        Optional (N,) integer class labels. Without labels every sample is its own
        class, so V must be at least 2.
    temperature:
        :math:`\tau > 0`; smaller values sharpen the contrast.

    Returns
    -------
    A scalar tensor (differentiable).
    """
    if not isinstance(features, torch.Tensor):
        features = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    if features.dim() == 2:
        features = features.unsqueeze(1)
    if features.dim() != 3:
        raise ValueError(
            "features must have shape (N, views, D) or (N, D), "
            f"got {tuple(features.shape)}"
        )
    n, v, _ = features.shape
    if n == 0 or features.shape[2] == 0:
        raise ValueError(f"features is empty (shape {tuple(features.shape)})")
    if not torch.isfinite(features).all():
        raise ValueError("features contain NaN or infinite values")
    if not float(temperature) > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    device = features.device
    if labels is None:
        if v < 2:
            raise ValueError(
                "without labels each sample needs at least 2 views (its positives); "
                "pass features of shape (N, 2, D) or give labels"
            )
        ids = torch.arange(n, device=device)
    else:
        ids = torch.as_tensor(
            np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
        ).to(device)
        if ids.dim() != 1 or len(ids) != n:
            raise ValueError(
                "labels must be 1-D with one label per sample: "
                f"got shape {tuple(ids.shape)} for {n} samples"
            )
        if ids.is_floating_point():
            raise ValueError(f"labels must be integer class ids, got dtype {ids.dtype}")
    z = F.normalize(
        features.reshape(n * v, -1), dim=1
    )  # sample-major: row s * v + view
    ids = ids.repeat_interleave(v)
    logits = (z @ z.T) / float(temperature)
    self_mask = torch.eye(n * v, dtype=torch.bool, device=device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # A(i): everything but i
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (ids[:, None] == ids[None, :]) & ~self_mask
    n_pos = positive.sum(1)
    has_pos = n_pos > 0
    if not has_pos.any():
        raise ValueError(
            "no anchor has a positive: every label occurs once and there is one "
            "view per sample"
        )
    mean_log_prob_pos = (
        log_prob.masked_fill(~positive, 0.0).sum(1)[has_pos] / n_pos[has_pos]
    )
    return -mean_log_prob_pos.mean()


def augment(
    x: torch.Tensor, generator: torch.Generator | None = None, max_shift: float = 3.0
) -> torch.Tensor:
    """Randomly shift, rescale, mirror and re-contrast a batch of images.

    Shifts are up to ``max_shift`` pixels, scales 0.9-1.1. ``x`` is a batch of images of
    shape (N, 28, 28) or (N, 1, 28, 28) with values in [0, 1]; returns (N, 1, 28, 28).
    One affine warp (``grid_sample``) transforms the whole batch; the random draws come
    from ``generator`` (on the CPU) so runs are reproducible.
    """
    x = SmallCNN._as_4d(x)
    n, device = x.shape[0], x.device

    def uniform(lo, hi, *shape):
        return (torch.rand(*shape, generator=generator) * (hi - lo) + lo).to(device)

    scale = uniform(0.9, 1.1, n)
    shift = uniform(-1, 1, n, 2) * (
        2 * max_shift / x.shape[-1]
    )  # in grid units ([-1, 1] spans the image)
    flip = (torch.rand(n, generator=generator) < 0.5).to(device)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = torch.where(flip, -1.0, 1.0) / scale
    theta[:, 1, 1] = 1.0 / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    gain = uniform(0.6, 1.4, n, 1, 1, 1)
    return (out * gain).clamp_(0.0, 1.0)


class ContrastiveCNN(nn.Module):
    """The workbook's SmallCNN backbone and a projection head, for contrastive training.

    ``features(x)`` gives the 128-d backbone features (the same layers, and so the same
    shape, as :meth:`SmallCNN.features`); these are what the OOD detectors use.
    ``forward(x)`` gives the L2-normalised ``projection_dim`` embedding that the loss
    sees (Chen et al. 2020 found a projection head gives better backbone features).
    """

    def __init__(self, hidden: int = 128, projection_dim: int = 64):
        super().__init__()
        backbone = SmallCNN(num_classes=2, dropout=0.0, hidden=hidden)
        self.conv, self.fc = backbone.conv, backbone.fc
        self.projection = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, projection_dim)
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features, shape (N, hidden)."""
        return self.fc(self.conv(SmallCNN._as_4d(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-length projection embeddings, shape (N, projection_dim)."""
        return F.normalize(self.projection(self.features(x)), dim=1)


def train_contrastive(
    model: nn.Module,
    x,
    y=None,
    *,
    epochs: int = 2,
    batch_size: int = 256,
    lr: float = 1e-3,
    temperature: float = 0.1,
    seed: int = 0,
    device=None,
    progress: bool = True,
) -> dict:
    """Train ``model`` with :func:`supervised_contrastive_loss` on two views per image.

    Each image's two views are drawn with :func:`augment`. With labels ``y`` (0..C-1)
    the loss is supervised (SupCon); with ``y=None`` it is SimCLR's. Adam, through
    :func:`trustworthy_lib.training.fit`; batches and augmentations are drawn from
    generators seeded with ``seed`` and ``seed + 1``, so two runs on the CPU give the
    same weights. A tqdm bar shows progress over batches. Returns the mean loss per
    epoch and the wall time in seconds; the model is left in eval mode on ``device``.
    """
    x = _as_tensor(x)
    if len(x) == 0:
        raise ValueError("cannot train on an empty data set")
    if torch.isnan(x).any():
        raise ValueError("x contains NaN values")
    if y is not None:
        y = _as_tensor(y, torch.long)
        if len(y) != len(x):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    if batch_size < 2:
        raise ValueError(
            f"batch_size must be at least 2 for a contrastive loss, got {batch_size}"
        )
    aug_gen = torch.Generator().manual_seed(seed + 1)

    def two_views(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        xb = x[idx]  # augmented on the CPU, where aug_gen draws
        views = torch.cat([augment(xb, aug_gen), augment(xb, aug_gen)])
        return views, None if y is None else y[idx]

    def batch_loss(model: nn.Module, batch) -> BatchLoss:
        views, yb = batch
        emb = model(views)  # (2B, P): first all first views, then all second views
        emb = torch.stack(emb.chunk(2), dim=1)  # (B, 2, P)
        return BatchLoss(supervised_contrastive_loss(emb, yb, temperature), len(emb))

    return fit(
        model,
        batch_loss,
        ShuffledBatches(len(x), batch_size, two_views, seed=seed),
        epochs=epochs,
        lr=lr,
        device=device,
        progress=progress,
        desc=f"contrastive training {type(model).__name__}",
        bar_per="step",
    )


def contrastive_cnn(
    id_classes=(0, 1),
    *,
    supervised: bool = True,
    train_per_class: int | None = 3000,
    epochs: int = 2,
    batch_size: int = 256,
    lr: float = 1e-3,
    temperature: float = 0.1,
    projection_dim: int = 64,
    seed: int = 0,
    device=None,
    progress: bool = True,
    directory: Path | str | None = None,
) -> tuple[ContrastiveCNN, dict]:
    """Return a :class:`ContrastiveCNN` trained on Fashion-MNIST ID classes, cached.

    It trains once on the shipped pack's first ``train_per_class`` training images of
    each ID class (``None``: all of them), with the supervised loss
    (``supervised=True``) or SimCLR's, and caches the weights with
    :func:`~trustworthy_lib.models.train_or_load` under the name ``"contrastive_cnn"``,
    keyed by every argument that changes them. The defaults keep a cold run to about
    half a minute on a 2-core CPU.
    """
    from trustworthy_lib.data import load_fashion_mnist

    id_classes = [int(c) for c in id_classes]
    config = {
        "id_classes": id_classes,
        "supervised": bool(supervised),
        "train_per_class": train_per_class,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "temperature": temperature,
        "projection_dim": projection_dim,
        "seed": seed,
    }

    def train(model):
        splits = load_fashion_mnist(
            id_classes=id_classes, ood_classes=(), train_per_class=train_per_class
        )
        y = encode_labels(splits.y_train, id_classes) if supervised else None
        return train_contrastive(
            model,
            splits.x_train,
            y,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            temperature=temperature,
            seed=seed,
            device=device,
            progress=progress,
        )

    return train_or_load(
        "contrastive_cnn",
        config,
        lambda: ContrastiveCNN(projection_dim=projection_dim),
        train,
        directory=directory,
        device=device,
        code=(train_contrastive,),
    )
