import json

import numpy as np
import pytest
import torch

from trustworthy_lib.models import (
    SmallCNN,
    config_key,
    encode_labels,
    extract_features,
    predict_logits,
    train_classifier,
    train_or_load,
)


def _toy(n=64, seed=0):
    """Two easily separable 'images': bright left half against bright right half."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.2, size=(n, 28, 28)).astype(np.float32)
    y = np.arange(n) % 2
    x[y == 0, :, :14] += 0.8
    x[y == 1, :, 14:] += 0.8
    return x, y


def test_small_cnn_shapes_and_features():
    model = SmallCNN(num_classes=3).eval()
    x = torch.rand(5, 28, 28)
    assert model(x).shape == (5, 3)
    assert model(x.unsqueeze(1)).shape == (5, 3)
    feats = model.features(x)
    assert feats.shape == (5, 128) and (feats >= 0).all()
    # the head applied to the features gives the logits
    torch.testing.assert_close(model.head(feats), model(x))
    with pytest.raises(ValueError, match="expected images of shape"):
        model(torch.rand(5, 32, 32))
    with pytest.raises(ValueError, match="num_classes"):
        SmallCNN(num_classes=1)


def _lesson_cnn(num_classes: int) -> torch.nn.Module:
    """The lesson's layer order (ReLU, then max-pool), contiguous NCHW weights, and the
    same parameter names as SmallCNN."""
    nn = torch.nn
    model = torch.nn.Module()
    model.conv = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    )  # fmt: skip
    model.fc = nn.Sequential(nn.Dropout(0.25), nn.Linear(3136, 128), nn.ReLU())
    model.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(128, num_classes))
    model.forward = lambda x: model.head(model.fc(model.conv(x.unsqueeze(1))))
    return model


def test_small_cnn_computes_the_lessons_function_with_channels_last_weights():
    """Pooling before the ReLU and the channels-last layout change the speed only:
    with the same weights the outputs and the gradients are those of the lesson's
    network."""
    torch.manual_seed(0)
    model = SmallCNN(num_classes=4)
    conv_weights = [m.weight for m in model.conv if isinstance(m, torch.nn.Conv2d)]
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in conv_weights)
    assert not conv_weights[1].is_contiguous()  # (conv 1 has one channel: both)
    lesson = _lesson_cnn(4)
    lesson.load_state_dict(model.state_dict(), strict=True)  # same names and shapes
    assert all(p.is_contiguous() for p in lesson.parameters())
    x = torch.randn(16, 28, 28) * 2  # negative pixels too, so that the ReLUs bite
    y = torch.randint(0, 4, (16,))
    model.eval(), lesson.eval()
    for net in (model, lesson):
        torch.nn.functional.cross_entropy(net(x), y).backward()
    torch.testing.assert_close(model(x), lesson(x), rtol=1e-5, atol=1e-5)
    grads = dict(lesson.named_parameters())
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[name].grad, rtol=1e-4, atol=1e-6)
    # the layout survives a round trip through a state dict and a move
    fresh = SmallCNN(num_classes=4)
    fresh.load_state_dict(lesson.state_dict())
    assert (
        fresh.conv[3].weight.to("cpu").is_contiguous(memory_format=torch.channels_last)
    )
    torch.testing.assert_close(fresh.eval()(x), lesson(x), rtol=1e-5, atol=1e-5)


def test_encode_labels():
    assert encode_labels([5, 0, 5, 0], classes=(0, 5)).tolist() == [1, 0, 1, 0]
    with pytest.raises(ValueError, match=r"class id\(s\) \[3\]"):
        encode_labels([0, 3], classes=(0, 5))


def test_training_learns_and_is_deterministic():
    x, y = _toy()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = SmallCNN(num_classes=2)
        hist = train_classifier(
            model, x, y, epochs=3, batch_size=16, seed=1, device="cpu", progress=False
        )
        runs.append((model, hist))
    assert runs[0][1]["loss"] == runs[1][1]["loss"]
    assert runs[0][1]["accuracy"][-1] == 1.0
    logits = predict_logits(runs[0][0], x)
    assert (logits.argmax(1) == y).all()
    assert extract_features(runs[0][0], x).shape == (len(x), 128)


def test_training_rejects_bad_input():
    x, y = _toy(8)
    with pytest.raises(ValueError, match="8 rows but y has 7"):
        train_classifier(SmallCNN(), x, y[:7], progress=False)
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_classifier(SmallCNN(), x, y, progress=False)


def test_train_or_load_caches_by_config(tmp_path):
    x, y = _toy()
    calls = []

    def train(model):
        calls.append(1)
        return train_classifier(
            model, x, y, epochs=1, batch_size=16, seed=0, device="cpu", progress=False
        )

    cfg = {"epochs": 1, "seed": 3}
    m1, info1 = train_or_load(
        "toy", cfg, lambda: SmallCNN(2), train, directory=tmp_path, device="cpu"
    )
    m2, info2 = train_or_load(
        "toy", cfg, lambda: SmallCNN(2), train, directory=tmp_path, device="cpu"
    )
    assert len(calls) == 1 and info1["cached"] is False and info2["cached"] is True
    assert info2["train_seconds"] == pytest.approx(info1["train_seconds"])
    for k, v in m1.state_dict().items():
        torch.testing.assert_close(v, m2.state_dict()[k])
    meta = json.loads(next(tmp_path.glob("toy-*.json")).read_text())
    assert meta["config"] == cfg
    # a different seed is a different model: a new key and a new training run
    assert config_key("toy", cfg) != config_key("toy", {**cfg, "seed": 4})
    train_or_load(
        "toy",
        {**cfg, "seed": 4},
        lambda: SmallCNN(2),
        train,
        directory=tmp_path,
        device="cpu",
    )
    assert len(calls) == 2


def test_train_or_load_is_reproducible_cold(tmp_path):
    x, y = _toy()

    def train(model):
        return train_classifier(
            model, x, y, epochs=1, batch_size=16, seed=0, device="cpu", progress=False
        )

    cfg = {"seed": 11}
    a, _ = train_or_load(
        "toy", cfg, lambda: SmallCNN(2), train, directory=tmp_path / "a", device="cpu"
    )
    b, _ = train_or_load(
        "toy", cfg, lambda: SmallCNN(2), train, directory=tmp_path / "b", device="cpu"
    )
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, b.state_dict()[k])


def test_train_or_load_requires_seed(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        train_or_load("toy", {"epochs": 1}, SmallCNN, lambda m: {}, directory=tmp_path)


def test_workbook_cnn_trains_on_the_pack_and_reuses_the_cache(tmp_path):
    from trustworthy_lib.data import load_fashion_mnist
    from trustworthy_lib.models import workbook_cnn

    kw = dict(
        id_classes=(0, 1),
        epochs=1,
        train_per_class=300,
        device="cpu",
        progress=False,
        directory=tmp_path,
    )
    model, info = workbook_cnn(**kw)
    assert info["cached"] is False and len(info["loss"]) == 1
    splits = load_fashion_mnist((0, 1), ())
    acc = (
        predict_logits(model, splits.x_test).argmax(1)
        == encode_labels(splits.y_test, (0, 1))
    ).mean()
    assert acc > 0.9  # T-shirts and trousers are easy, even after one short epoch
    again, info2 = workbook_cnn(**kw)
    assert info2["cached"] is True
    torch.testing.assert_close(
        predict_logits(again, splits.x_test[:50]),
        predict_logits(model, splits.x_test[:50]),
    )


# ---------------------------------------------------------------------------
# A cache you can trust: checksums, atomic writes, code version in the key


def _cached_toy(tmp_path, calls):
    x, y = _toy()

    def train(model):
        calls.append(1)
        return train_classifier(
            model, x, y, epochs=1, batch_size=16, seed=0, device="cpu", progress=False
        )

    return train_or_load(
        "toy", {"seed": 5}, lambda: SmallCNN(2), train, directory=tmp_path, device="cpu"
    )


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_corrupt_cached_weights_are_reported_and_retrained(tmp_path, damage):
    from trustworthy_lib._cache import CacheWarning

    calls = []
    first, _ = _cached_toy(tmp_path, calls)
    weights = next(tmp_path.glob("toy-*.safetensors"))
    data = bytearray(weights.read_bytes())
    if damage == "flip":
        data[-1] ^= 0xFF  # still a loadable file: only the checksum can tell
    weights.write_bytes(
        bytes(
            data[: len(data) // 2]
            if damage == "truncate"
            else b""
            if damage == "empty"
            else data
        )
    )
    with pytest.warns(CacheWarning, match="corrupt or incomplete.*retraining"):
        again, info = _cached_toy(tmp_path, calls)
    assert len(calls) == 2 and info["cached"] is False
    for k, v in first.state_dict().items():
        torch.testing.assert_close(v, again.state_dict()[k])
    _, info3 = _cached_toy(tmp_path, calls)  # the rewritten file verifies
    assert info3["cached"] is True and len(calls) == 2


def test_cache_key_changes_with_the_training_code():
    from trustworthy_lib.models import training_code_version

    def train_a(model):
        return {"lr": 0.1}

    def train_b(model):
        return {"lr": 0.2}

    cfg = {"seed": 0}
    assert config_key("toy", cfg, code=(train_a,)) == config_key(
        "toy", cfg, code=(train_a,)
    )
    assert config_key("toy", cfg, code=(train_a,)) != config_key(
        "toy", cfg, code=(train_b,)
    )
    assert training_code_version() != training_code_version(train_a)


def test_a_changed_training_loop_retrains(tmp_path, monkeypatch):
    import trustworthy_lib.models as models

    calls = []
    _cached_toy(tmp_path, calls)
    _cached_toy(tmp_path, calls)
    assert len(calls) == 1

    def edited_loop(*args, **kwargs):  # stands for an edit to the training loop
        return train_classifier(*args, **kwargs)

    monkeypatch.setattr(models, "_TRAINING_LOOPS", (edited_loop,))
    _, info = _cached_toy(tmp_path, calls)
    assert len(calls) == 2 and info["cached"] is False
    assert len(list(tmp_path.glob("toy-*.safetensors"))) == 2
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind
