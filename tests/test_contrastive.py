"""Tests for trustworthy_lib.contrastive: SupCon/SimCLR loss, augmentations, trainer."""

import math

import numpy as np
import pytest
import torch

from trustworthy_lib.contrastive import (
    ContrastiveCNN,
    augment,
    contrastive_cnn,
    supervised_contrastive_loss,
    train_contrastive,
)


def reference_supcon(features, labels, temperature):
    """Khosla et al.'s L_out as in the paper: anchor by anchor, positive by positive."""
    n, v, _ = features.shape
    z = torch.nn.functional.normalize(features.reshape(n * v, -1).double(), dim=1)
    ids = (
        [i // v for i in range(n * v)]
        if labels is None
        else [int(labels[i // v]) for i in range(n * v)]
    )
    total, anchors = 0.0, 0
    for i in range(n * v):
        positives = [p for p in range(n * v) if p != i and ids[p] == ids[i]]
        if not positives:
            continue
        denom = sum(
            math.exp(float(z[i] @ z[a]) / temperature) for a in range(n * v) if a != i
        )
        total += -sum(
            math.log(math.exp(float(z[i] @ z[p]) / temperature) / denom)
            for p in positives
        ) / len(positives)
        anchors += 1
    return total / anchors


@pytest.mark.parametrize("with_labels", [True, False])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_loss_matches_the_papers_formula(with_labels, temperature):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(6, 2, 5, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 1, 0, 2, 1, 0]) if with_labels else None
    got = supervised_contrastive_loss(feats, labels, temperature)
    assert got.item() == pytest.approx(
        reference_supcon(feats, labels, temperature), rel=1e-10
    )


def test_loss_known_values_and_properties():
    # all embeddings equal: every term is log(1 / (M - 1)) for M views in all
    same = torch.ones(4, 2, 3)
    assert supervised_contrastive_loss(same, None, 0.1).item() == pytest.approx(
        math.log(7), rel=1e-6
    )
    # labels that are all different give SimCLR's loss
    feats = torch.randn(5, 2, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        supervised_contrastive_loss(feats, torch.arange(5)),
        supervised_contrastive_loss(feats, None),
    )
    # scale-invariant (the embeddings are normalised)
    torch.testing.assert_close(
        supervised_contrastive_loss(3.0 * feats, None),
        supervised_contrastive_loss(feats, None),
    )
    # a clustered embedding scores lower than a scrambled one
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    centres = torch.eye(3)[labels]
    clustered = centres[:, None, :].repeat(1, 2, 1) + 0.01 * torch.randn(
        6, 2, 3, generator=torch.Generator().manual_seed(2)
    )
    scrambled = clustered[torch.tensor([0, 2, 4, 1, 3, 5])]
    assert supervised_contrastive_loss(clustered, labels) < supervised_contrastive_loss(
        scrambled, labels
    )
    # (N, D) input is one view per sample; an anchor without positives is left out
    one_view = supervised_contrastive_loss(
        clustered[:, 0], torch.tensor([0, 0, 1, 1, 2, 9])
    )
    assert torch.isfinite(one_view)


def test_loss_has_gradients():
    feats = torch.randn(4, 2, 6, requires_grad=True)
    supervised_contrastive_loss(feats, None).backward()
    assert (
        feats.grad is not None
        and torch.isfinite(feats.grad).all()
        and feats.grad.abs().sum() > 0
    )


def test_loss_rejects_bad_input():
    feats = torch.randn(4, 2, 3)
    with pytest.raises(ValueError, match=r"shape \(N, views, D\)"):
        supervised_contrastive_loss(torch.randn(3))
    with pytest.raises(ValueError, match="empty"):
        supervised_contrastive_loss(torch.randn(0, 2, 3))
    with pytest.raises(ValueError, match="NaN"):
        supervised_contrastive_loss(torch.full((2, 2, 3), float("nan")))
    with pytest.raises(ValueError, match="one label per sample"):
        supervised_contrastive_loss(feats, torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="integer class ids"):
        supervised_contrastive_loss(feats, torch.tensor([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="at least 2 views"):
        supervised_contrastive_loss(torch.randn(4, 3), None)
    with pytest.raises(ValueError, match="no anchor has a positive"):
        supervised_contrastive_loss(torch.randn(4, 3), torch.arange(4))
    with pytest.raises(ValueError, match="temperature must be positive"):
        supervised_contrastive_loss(feats, None, temperature=0.0)


def test_augment_is_random_reproducible_and_in_range():
    x = torch.rand(8, 28, 28)
    a = augment(x, torch.Generator().manual_seed(0))
    b = augment(x, torch.Generator().manual_seed(0))
    c = augment(x, torch.Generator().manual_seed(1))
    assert a.shape == (8, 1, 28, 28)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    assert a.min() >= 0 and a.max() <= 1
    with pytest.raises(ValueError, match="expected images of shape"):
        augment(torch.rand(2, 32, 32))


def _toy(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.2, size=(n, 28, 28)).astype(np.float32)
    y = np.arange(n) % 2
    x[y == 0, 4:24, 4:12] += 0.8
    x[y == 1, 4:24, 16:24] += 0.8
    return x, y


def test_train_contrastive_learns_and_is_deterministic():
    x, y = _toy()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = ContrastiveCNN(projection_dim=16)
        hist = train_contrastive(
            model, x, y, epochs=2, batch_size=16, seed=3, device="cpu", progress=False
        )
        runs.append((model, hist))
    assert runs[0][1]["loss"] == runs[1][1]["loss"]
    assert runs[0][1]["loss"][-1] < runs[0][1]["loss"][0]
    model = runs[0][0]
    with torch.no_grad():
        emb = model(torch.as_tensor(x))
        feats = model.features(torch.as_tensor(x))
    assert emb.shape == (24, 16) and feats.shape == (24, 128)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(24))
    with pytest.raises(ValueError, match="x has 24 rows but y has 23"):
        train_contrastive(model, x, y[:-1], progress=False)
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        train_contrastive(model, x, y, batch_size=1, progress=False)
    with pytest.raises(ValueError, match="empty"):
        train_contrastive(model, x[:0], None, progress=False)


def test_contrastive_cnn_is_cached(tmp_path):
    kwargs = dict(
        train_per_class=8,
        epochs=1,
        batch_size=16,
        seed=0,
        device="cpu",
        progress=False,
        directory=tmp_path,
    )
    first, info = contrastive_cnn(**kwargs)
    assert info["cached"] is False
    second, info2 = contrastive_cnn(**kwargs)
    assert info2["cached"] is True and info2["loss"] == info["loss"]
    for a, b in zip(
        first.state_dict().values(), second.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b)
    assert len(list(tmp_path.glob("contrastive_cnn-*.safetensors"))) == 1
    _, info3 = contrastive_cnn(**{**kwargs, "supervised": False})
    assert info3["cached"] is False  # a different config trains a different model
