import json
import pickle

import pytest
import torch

from trustworthy_lib.models import SmallCNN
from trustworthy_lib.release import (
    HubSmallCNN,
    load_model,
    load_weights,
    push_to_hub_if_token,
    save_model,
)


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return SmallCNN(**kw).eval()


@pytest.mark.parametrize(
    "fmt, name", [("safetensors", "model.safetensors"), ("pt", "model.pt")]
)
def test_save_and_load_round_trip(tmp_path, fmt, name):
    model = _model(num_classes=3, hidden=16)
    config = {"num_classes": 3, "dropout": 0.25, "hidden": 16}
    path = save_model(model, tmp_path, config, format=fmt)
    assert path == tmp_path / name
    record = json.loads((tmp_path / "config.json").read_text())
    assert (
        record["config"] == config
        and record["weights"] == name
        and record["format"] == fmt
    )
    loaded, cfg = load_model(tmp_path, SmallCNN, device="cpu")
    assert cfg == config and not loaded.training
    x = torch.rand(4, 28, 28)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    state = load_weights(path)
    assert set(state) == set(model.state_dict())


def test_load_detects_a_changed_weights_file(tmp_path):
    path = save_model(_model(), tmp_path, {"num_classes": 2})
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="was changed or truncated"):
        load_model(tmp_path, SmallCNN)


def test_load_requires_matching_architecture(tmp_path):
    save_model(_model(hidden=16), tmp_path, {"num_classes": 2, "hidden": 16})
    record = json.loads((tmp_path / "config.json").read_text())
    record["config"]["hidden"] = 32
    (tmp_path / "config.json").write_text(json.dumps(record))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_model(tmp_path, SmallCNN)


def test_load_weights_refuses_code_in_a_pickle(tmp_path):
    class RunsCode:
        def __reduce__(self):
            return (print, ("this ran during loading",))

    path = tmp_path / "evil.pt"
    with path.open("wb") as fh:
        pickle.dump({"weight": RunsCode()}, fh, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_weights(path)


def test_load_weights_rejects_non_state_dicts_and_unknown_suffixes(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="does not hold a state_dict"):
        load_weights(tmp_path / "list.pt")
    (tmp_path / "w.pkl").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot tell how to read 'w.pkl' safely"):
        load_weights(tmp_path / "w.pkl")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_weights(tmp_path / "absent.safetensors")


def test_save_model_input_checks(tmp_path):
    model = _model()
    with pytest.raises(ValueError, match="unknown format 'pickle'"):
        save_model(model, tmp_path, {}, format="pickle")
    with pytest.raises(ValueError, match="only JSON values"):
        save_model(model, tmp_path, {"classes": {1, 2}})
    with pytest.raises(ValueError, match="config must be a dict"):
        save_model(model, tmp_path, [1, 2])
    with pytest.raises(ValueError, match="must be a torch.nn.Module"):
        save_model("model", tmp_path, {})


def test_load_model_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        load_model(tmp_path, SmallCNN)
    (tmp_path / "config.json").write_text(json.dumps({"config": {}}))
    with pytest.raises(ValueError, match=r"lacks \['weights', 'sha256'\]"):
        load_model(tmp_path, SmallCNN)
    (tmp_path / "config.json").write_text(
        json.dumps({"config": {}, "weights": "model.safetensors", "sha256": "0"})
    )
    with pytest.raises(FileNotFoundError, match="model.safetensors, which is missing"):
        load_model(tmp_path, SmallCNN)


def test_hub_mixin_save_and_from_pretrained_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = _model(hidden=32, dropout=0.1)
    hub = HubSmallCNN.from_small_cnn(model)
    x = torch.rand(3, 28, 28)
    torch.testing.assert_close(hub(x), model(x), rtol=0, atol=0)
    hub.save_pretrained(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "model.safetensors",
        "config.json",
        "README.md",
    }
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "num_classes": 2,
        "dropout": 0.1,
        "hidden": 32,
    }
    again = HubSmallCNN.from_pretrained(tmp_path, strict=True)
    assert isinstance(again, SmallCNN) and not again.training
    torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="expected a SmallCNN"):
        HubSmallCNN.from_small_cnn(torch.nn.Linear(2, 2))


class _FakeHubModel:
    def __init__(self):
        self.calls = []

    def push_to_hub(self, repo_id, **kwargs):
        self.calls.append((repo_id, kwargs))
        return f"https://huggingface.co/{repo_id}/commit/abc"


def test_push_to_hub_skips_without_token(monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    model = _FakeHubModel()
    assert push_to_hub_if_token(model, "me/cnn") is None
    assert model.calls == []
    out = capsys.readouterr().out
    assert "Skipping push_to_hub('me/cnn'): no Hugging Face token found." in out
    assert "Nothing was uploaded." in out and "HF_TOKEN" in out


def test_push_to_hub_skips_when_offline_even_with_token(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = _FakeHubModel()
    assert push_to_hub_if_token(model, "me/cnn", token="hf_x") is None
    assert model.calls == [] and "HF_HUB_OFFLINE is set" in capsys.readouterr().out


def test_push_to_hub_pushes_privately_with_a_token(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_from_env")
    model = _FakeHubModel()
    url = push_to_hub_if_token(model, "me/cnn", commit_message="first")
    assert url == "https://huggingface.co/me/cnn/commit/abc"
    assert model.calls == [
        ("me/cnn", {"token": "hf_from_env", "private": True, "commit_message": "first"})
    ]


def test_push_to_hub_input_checks():
    with pytest.raises(ValueError, match="your-username/model-name"):
        push_to_hub_if_token(_FakeHubModel(), "cnn")
    with pytest.raises(ValueError, match="has no push_to_hub"):
        push_to_hub_if_token(object(), "me/cnn")


def test_push_to_hub_skips_the_placeholder_repo_id(monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    model = _FakeHubModel()
    assert push_to_hub_if_token(model, "your-username/cnn") is None
    assert model.calls == [] and "replace 'your-username'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name",
    [
        "../model.safetensors",
        "/etc/passwd",
        "sub/model.safetensors",
        "..",
        "config.json",
    ],
)
def test_load_model_refuses_a_weights_name_outside_its_folder(tmp_path, name):
    folder = tmp_path / "release"
    save_model(_model(), folder, {"num_classes": 2})
    # a real weights file where the escaping name leads: only the name check stops it
    (tmp_path / "model.safetensors").write_bytes(
        (folder / "model.safetensors").read_bytes()
    )
    record = json.loads((folder / "config.json").read_text())
    record["weights"] = name
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="not a plain file name"):
        load_model(folder, SmallCNN, device="cpu")


def test_save_model_writes_atomically(tmp_path, monkeypatch):
    save_model(_model(0), tmp_path, {"num_classes": 2})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(_model(1), tmp_path, {"num_classes": 2})
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # the old model is intact and no temporary file is left
