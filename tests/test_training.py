"""The shared training loop: trustworthy_lib.training.fit and its batch sources."""

import inspect
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import trustworthy_lib.models as models
from trustworthy_lib import training
from trustworthy_lib.contrastive import train_contrastive
from trustworthy_lib.models import SmallCNN, config_key, train_classifier, train_or_load
from trustworthy_lib.regression import fit_regressor
from trustworthy_lib.training import BatchLoss, ShuffledBatches, fit


def _blobs(n=40, seed=0):
    """Two well separated Gaussian blobs in 2-D, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(0.0, 0.3, size=(n, 2)) + np.where(y[:, None] == 1, 2.0, -2.0)
    return torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)


def _classify(model, batch):
    xb, yb = batch
    logits = model(xb)
    correct = (logits.argmax(1) == yb).sum()
    return BatchLoss(F.cross_entropy(logits, yb), len(yb), {"accuracy": correct})


def _run(seed=0, init=0, epochs=3, **kwargs):
    x, y = _blobs()
    torch.manual_seed(init)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))
    batches = ShuffledBatches(len(x), 8, lambda idx: (x[idx], y[idx]), seed=seed)
    kwargs = {"lr": 1e-2, "device": "cpu", "progress": False, **kwargs}
    return model, fit(model, _classify, batches, epochs=epochs, **kwargs)


def test_a_seeded_run_is_reproducible():
    (m1, h1), (m2, h2) = _run(), _run()
    assert h1["loss"] == h2["loss"] and h1["accuracy"] == h2["accuracy"]
    for name, value in m1.state_dict().items():
        assert torch.equal(value, m2.state_dict()[name]), name
    _, h3 = _run(seed=1)  # another batch order
    assert h3["loss"] != h1["loss"]


def test_loss_decreases_on_a_separable_toy():
    _, history = _run(epochs=15)
    assert set(history) == {"loss", "accuracy", "train_seconds"}
    assert len(history["loss"]) == len(history["accuracy"]) == 15
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] == 1.0
    assert history["train_seconds"] > 0


def test_history_is_the_mean_over_examples_with_an_uneven_last_batch():
    # with lr=0 nothing moves, so every epoch's record is the loss of the whole data
    x, y = _blobs(10)
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    batches = ShuffledBatches(10, 4, lambda idx: (x[idx], y[idx]), seed=0)  # 4, 4, 2
    history = fit(model, _classify, batches, epochs=2, lr=0.0, progress=False)
    with torch.no_grad():
        logits = model(x)
    expected_loss = F.cross_entropy(logits, y).item()
    expected_accuracy = (logits.argmax(1) == y).float().mean().item()
    assert history["loss"] == pytest.approx([expected_loss] * 2, rel=1e-6)
    assert history["accuracy"] == pytest.approx([expected_accuracy] * 2)


def test_the_model_is_left_in_eval_mode_on_the_device_and_trained_in_train_mode():
    x, y = _blobs(12)
    seen = []

    def batch_loss(model, batch):
        seen.append((model.training, batch[0].device, batch[1].device))
        return _classify(model, batch)

    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    fit(model, batch_loss, [(x, y)], epochs=2, lr=1e-2, device="cpu", progress=False)
    cpu = torch.device("cpu")
    assert seen == [(True, cpu, cpu)] * 2
    assert not model.training and not any(m.training for m in model.modules())
    assert all(p.device == cpu for p in model.parameters())


def test_fit_agrees_with_a_hand_written_adam_loop():
    """The reference: Adam + penalty + cosine decay written out, one batch per epoch."""
    x, y = _blobs(16)
    lam, steps = 1e-3, 30

    def make():
        torch.manual_seed(3)
        return nn.Linear(2, 2)

    reference = make()
    opt = torch.optim.Adam(reference.parameters(), lr=0.05, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=5e-4)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(reference(x), y)
        (loss + lam * (reference.weight**2).sum()).backward()
        opt.step()
        sched.step()
        losses.append(loss.item())

    def batch_loss(model, batch):
        xb, yb = batch
        penalty = lam * (model.weight**2).sum()
        return BatchLoss(F.cross_entropy(model(xb), yb), len(yb), penalty=penalty)

    model = make()
    history = fit(
        model,
        batch_loss,
        [(x, y)],
        epochs=steps,
        lr=0.05,
        weight_decay=1e-2,
        final_lr=5e-4,
        device="cpu",
        progress=False,
    )
    assert history["loss"] == losses  # the penalty is minimised, not recorded
    for name, value in reference.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name


def test_a_dataloader_is_a_batch_source():
    x, y = _blobs(20)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), 8)
    model = nn.Linear(2, 2)
    history = fit(model, _classify, loader, epochs=2, lr=1e-2, progress=False)
    assert len(history["loss"]) == 2


def test_a_named_tuple_batch_reaches_the_loss_as_itself():
    class Pair(NamedTuple):
        x: torch.Tensor
        y: torch.Tensor

    x, y = _blobs(8)
    kinds = []

    def batch_loss(model, batch):
        kinds.append(type(batch))
        return _classify(model, (batch.x, batch.y))

    fit(nn.Linear(2, 2), batch_loss, [Pair(x, y)], epochs=1, lr=1e-2, progress=False)
    assert kinds == [Pair]


def test_the_bar_can_count_steps_and_does_not_change_the_result(capsys):
    _, quiet = _run()
    _, shown = _run(progress=True, desc="toy loop", bar_per="step")
    assert "toy loop" in capsys.readouterr().err
    assert shown["loss"] == quiet["loss"]


def test_shuffled_batches_cover_the_data_once_per_epoch_in_a_new_order():
    batches = ShuffledBatches(10, 4, lambda idx: idx, seed=0)
    assert len(batches) == 3
    first, second = list(batches), list(batches)
    assert [len(b) for b in first] == [4, 4, 2]
    assert sorted(torch.cat(first).tolist()) == list(range(10))
    assert sorted(torch.cat(second).tolist()) == list(range(10))
    assert torch.cat(first).tolist() != torch.cat(second).tolist()
    again = ShuffledBatches(10, 4, lambda idx: idx, seed=0)
    assert torch.equal(torch.cat(list(again)), torch.cat(first))


def test_bad_input_raises_clear_errors():
    x, y = _blobs(8)
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="batches is empty"):
        fit(model, _classify, [], epochs=1, lr=1e-2, progress=False)
    with pytest.raises(ValueError, match="empty data set"):
        ShuffledBatches(0, 4, lambda idx: idx, seed=0)
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        ShuffledBatches(8, 0, lambda idx: idx, seed=0)
    with pytest.raises(ValueError, match="batch_size must be an integer"):
        ShuffledBatches(8, 2.5, lambda idx: idx, seed=0)
    with pytest.raises(ValueError, match="epochs must be a non-negative integer"):
        fit(model, _classify, [(x, y)], epochs=-1, lr=1e-2, progress=False)
    with pytest.raises(ValueError, match="bar_per must be"):
        fit(model, _classify, [(x, y)], epochs=1, lr=1e-2, bar_per="batch")
    x_nan = x.clone()
    x_nan[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="loss is nan at epoch 0, step 0"):
        fit(model, _classify, [(x_nan, y)], epochs=1, lr=1e-2, progress=False)
    # the trainers on the loop keep their own checks, and a bad batch size is clear
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        train_classifier(SmallCNN(), np.zeros((4, 28, 28)), [0, 1, 0, 1], batch_size=0)
    with pytest.raises(ValueError, match="empty data set"):
        train_classifier(SmallCNN(), np.zeros((0, 28, 28)), [], progress=False)


def test_zero_epochs_leave_the_model_untrained_in_eval_mode():
    x, y = _blobs(8)
    model = nn.Linear(2, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history = fit(model, _classify, [(x, y)], epochs=0, lr=1e-2, progress=False)
    assert history["loss"] == [] and not model.training
    for name, value in before.items():
        assert torch.equal(value, model.state_dict()[name])


# ---------------------------------------------------------------------------
# The shared loop is part of every model-cache key


@pytest.fixture
def edited_loop(monkeypatch):
    """Make the cache see an edit to the shared loop's source (the training module)."""
    getsource = inspect.getsource

    def edited(obj):
        text = getsource(obj)
        return text + "\n# an edit to the loop\n" if obj is training else text

    def apply():
        monkeypatch.setattr(models.inspect, "getsource", edited)

    return apply


def test_an_edit_to_the_shared_loop_changes_every_trainers_cache_key(edited_loop):
    cfg = {"seed": 0}
    codes = {
        "classifier": (),  # train_classifier is always in the key
        "contrastive": (train_contrastive,),
        "regressor": (fit_regressor,),
    }
    before = {name: config_key(name, cfg, code=code) for name, code in codes.items()}
    edited_loop()
    after = {name: config_key(name, cfg, code=code) for name, code in codes.items()}
    assert all(before[name] != after[name] for name in codes)


def test_an_edit_to_the_shared_loop_retrains(tmp_path, edited_loop):
    x, y = _blobs(16)
    calls = []

    def build():
        return nn.Linear(2, 2)

    def train(model):
        calls.append(1)
        batches = ShuffledBatches(16, 8, lambda idx: (x[idx], y[idx]), seed=0)
        return fit(model, _classify, batches, epochs=1, lr=1e-2, progress=False)

    def load():
        return train_or_load(
            "loop", {"seed": 0}, build, train, directory=tmp_path, device="cpu"
        )

    load()
    assert load()[1]["cached"] is True and len(calls) == 1
    edited_loop()
    assert load()[1]["cached"] is False and len(calls) == 2
