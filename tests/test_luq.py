import logging
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from trustworthy_lib.luq import (
    DictDataModule,
    DictDataset,
    dict_loader,
    fit_quietly,
    luq_train_or_load,
    predict_dict,
    quiet_lightning,
)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, 1)).astype(np.float32)
    return x, (np.sin(x) + 0.1 * rng.normal(size=x.shape)).astype(np.float32)


def test_dict_batches_have_the_right_keys_shapes_and_dtypes():
    x, y = _data(10)
    batch = next(iter(dict_loader(x, y, batch_size=4)))
    assert set(batch) == {"input", "target"}
    assert batch["input"].shape == (4, 1) and batch["target"].shape == (4, 1)
    assert batch["target"].dtype == torch.float32
    full = next(iter(dict_loader(x[:, 0], y[:, 0])))
    assert full["input"].shape == (10, 1) and full["target"].shape == (10, 1)
    cls = DictDataset(np.zeros((3, 2)), np.array([0, 2, 1]), task="classification")
    assert cls[1]["target"].dtype == torch.long and int(cls[1]["target"]) == 2


def test_shuffled_loader_is_seeded_and_leaves_global_rng_alone():
    x, y = _data(20)
    state = torch.random.get_rng_state()
    a = [b["input"] for b in dict_loader(x, y, batch_size=5, shuffle=True, seed=3)]
    b = [b["input"] for b in dict_loader(x, y, batch_size=5, shuffle=True, seed=3)]
    assert torch.equal(torch.random.get_rng_state(), state)
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v)
    assert not torch.equal(torch.cat(a), torch.as_tensor(x))  # really shuffled


def test_dict_dataset_errors_say_what_is_wrong():
    with pytest.raises(ValueError, match="NaN"):
        DictDataset(np.array([[np.nan]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="rows"):
        DictDataset(np.zeros((3, 1)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="integer class ids"):
        DictDataset(np.zeros((2, 1)), np.array([0.5, 1.0]), task="classification")
    with pytest.raises(ValueError, match="no test split"):
        DictDataModule(_data(), _data()).test_dataloader()


def test_datamodule_calibration_defaults_to_validation():
    train, val = _data(8, 0), _data(6, 1)
    dm = DictDataModule(train, val)
    batch = next(iter(dm.calib_dataloader()))
    np.testing.assert_array_equal(batch["input"].numpy(), val[0])


def _mve(seed=0):
    with quiet_lightning():  # importing LUQ warns about torch.jit.script
        from lightning_uq_box.uq_methods import MVERegression

    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, 16), nn.SiLU(), nn.Linear(16, 2))
    return MVERegression(
        net, burnin_epochs=0, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)
    )


def test_trained_luq_model_learns_and_predicts_through_the_adapter():
    dm = DictDataModule(_data(60), _data(20, 1))
    model = _mve()
    x = np.linspace(-2, 2, 9, dtype=np.float32)
    before = predict_dict(model, x)["pred"]
    seconds = fit_quietly(model, dm, max_epochs=150, device="cpu", limit_val_batches=0)
    out = predict_dict(model, x, keys=["pred", "pred_uct"])
    assert seconds > 0 and set(out) == {"pred", "pred_uct"}
    assert out["pred"].shape == (9,) and (out["pred_uct"] > 0).all()
    err_before = np.abs(before - np.sin(x)).mean()
    err_after = np.abs(out["pred"] - np.sin(x)).mean()
    assert err_after < 0.25 < err_before or err_after < err_before / 3


def test_cached_model_round_trips_to_identical_predictions(tmp_path):
    dm = DictDataModule(_data(40), _data(10, 1))
    calls = []

    def train(model):
        calls.append(1)
        model.extra_count = 7
        return {
            "train_seconds": fit_quietly(
                model, dm, max_epochs=20, device="cpu", limit_val_batches=0
            )
        }

    config = {"method": "mve", "epochs": 20, "seed": 0}
    first, info1 = luq_train_or_load(
        "mve_test",
        config,
        _mve,
        train,
        directory=tmp_path,
        device="cpu",
        attributes=["extra_count"],
    )
    second, info2 = luq_train_or_load(
        "mve_test",
        config,
        _mve,
        train,
        directory=tmp_path,
        device="cpu",
        attributes=["extra_count"],
    )
    assert calls == [1] and not info1["cached"] and info2["cached"]
    assert second.extra_count == 7
    assert not list(tmp_path.glob("*.pt")) and list(tmp_path.glob("*.safetensors"))
    x = np.linspace(-3, 3, 13)
    a, b = predict_dict(first, x), predict_dict(second, x)
    np.testing.assert_array_equal(a["pred"], b["pred"])
    np.testing.assert_array_equal(a["pred_uct"], b["pred_uct"])
    untrained = predict_dict(_mve(), x)["pred"]
    assert not np.allclose(untrained, a["pred"])


def test_quiet_lightning_restores_logger_levels():
    logger = logging.getLogger("lightning.pytorch")
    before = logger.level
    with quiet_lightning():
        assert logger.level == logging.ERROR
    assert logger.level == before


def test_training_prints_nothing():
    code = (
        "import numpy as np, torch\n"
        "from tests.test_luq import _data, _mve\n"
        "from trustworthy_lib.luq import DictDataModule, fit_quietly\n"
        "m = _mve()\n"
        "fit_quietly(m, DictDataModule(_data(), _data(10, 1)), max_epochs=3)\n"
    )
    done = subprocess.run(  # noqa: PLW1510 - the return code is asserted below
        [sys.executable, "-W", "default", "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == "", (done.stdout, done.stderr)


def test_regression_report_known_values_and_calibrated_gaussian():
    from scipy.stats import norm

    from trustworthy_lib.luq import regression_report

    r = regression_report([1.0, 3.0], [1.0, 1.0], [1.0, 2.0])
    expected_nll = np.mean([0.5 * np.log(2 * np.pi), 0.5 * np.log(2 * np.pi * 4) + 0.5])
    np.testing.assert_allclose(r["NLL"], expected_nll)
    np.testing.assert_allclose(r["RMSE"], np.sqrt(2.0))
    np.testing.assert_allclose(
        r["width"], np.mean(2 * norm.ppf(0.95) * np.array([1.0, 2.0]))
    )
    rng = np.random.default_rng(0)
    y = rng.normal(size=20000)
    good = regression_report(y, np.zeros_like(y), np.ones_like(y))
    bad = regression_report(y, np.zeros_like(y), 0.3 * np.ones_like(y))
    assert abs(good["coverage"] - 0.9) < 0.01 and bad["coverage"] < 0.4
    assert good["miscalibration area"] < 0.02 < bad["miscalibration area"]
    q = regression_report(
        y,
        np.zeros_like(y),
        np.ones_like(y),
        lower=-np.ones_like(y),
        upper=np.ones_like(y),
    )
    np.testing.assert_allclose(q["coverage"], np.mean(np.abs(y) <= 1))
    np.testing.assert_allclose(q["width"], 2.0)
    with pytest.raises(ValueError, match="positive"):
        regression_report([1.0], [1.0], [0.0])


def test_softplus_log_variance_and_half_mse():
    from trustworthy_lib.luq import HalfMSE, SoftplusLogVariance

    out = torch.tensor([[0.5, -1.0], [2.0, 3.0]])
    got = SoftplusLogVariance(min_var=1e-4)(out)
    torch.testing.assert_close(got[:, 0], out[:, 0])
    torch.testing.assert_close(
        got[:, 1].exp(), nn.functional.softplus(out[:, 1]) + 1e-4
    )
    pred, target = torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [4.0]])
    torch.testing.assert_close(HalfMSE()(pred, target), torch.tensor(1.25))


def test_member_as_sequential_predicts_what_the_member_predicts():
    from trustworthy_lib.luq import member_as_sequential
    from trustworthy_lib.regression import MLPEnsemble

    torch.manual_seed(0)
    ens = MLPEnsemble(
        members=3, hidden=8, outputs=2, activation="silu", dropout=0.2
    ).eval()
    x = torch.linspace(-3, 3, 11)[:, None]
    mean, var = ens.mean_var(x)
    for m in range(3):
        net = member_as_sequential(ens, m).eval()
        out = net(x)
        torch.testing.assert_close(out[:, 0], mean[m], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out[:, 1].exp(), var[m], rtol=1e-5, atol=1e-7)
    assert any(isinstance(layer, nn.Dropout) for layer in member_as_sequential(ens, 0))
    with pytest.raises(ValueError, match="member"):
        member_as_sequential(ens, 3)


def test_luq_deep_ensemble_matches_the_law_of_total_variance(tmp_path):
    from trustworthy_lib.luq import luq_deep_ensemble
    from trustworthy_lib.uncertainty import variance_decomposition

    members = [_mve(s).eval() for s in range(3)]
    x = np.linspace(-2, 2, 7, dtype=np.float32)
    outs = [m.model(torch.as_tensor(x)[:, None]).detach().numpy() for m in members]
    means = np.stack([o[:, 0] for o in outs])
    variances = np.stack([np.exp(o[:, 1]) + 1e-6 for o in outs])
    mu, ale, epi = variance_decomposition(means, variances)
    got = predict_dict(luq_deep_ensemble(members, tmp_path), x)
    np.testing.assert_allclose(got["pred"], mu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["pred_uct"] ** 2, ale + epi, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got["epistemic_uct"] ** 2, epi, rtol=1e-3, atol=1e-6)


def test_train_luq_runs_finish_before_caching(tmp_path):
    from trustworthy_lib.luq import train_luq

    dm = DictDataModule(_data(30), _data(10, 1))
    seen = []

    def finish(model):
        seen.append(model.training)
        model.model[0].bias.data.fill_(0.25)  # a change the cache must keep

    kwargs = {"datamodule": dm, "epochs": 2, "directory": tmp_path, "device": "cpu"}
    _a, info = train_luq("mve_finish", {"seed": 1}, _mve, finish=finish, **kwargs)
    b, info_b = train_luq("mve_finish", {"seed": 1}, _mve, finish=finish, **kwargs)
    assert seen == [False] and info["train_seconds"] > 0 and info_b["cached"]
    torch.testing.assert_close(b.model[0].bias, torch.full((16,), 0.25))


def test_training_metrics_are_dropped_and_the_weights_do_not_change():
    from trustworthy_lib.luq import without_training_metrics

    dm = DictDataModule(_data(30), _data(10, 1))
    plain, lean = _mve(3), without_training_metrics(_mve(3))
    assert len(plain.train_metrics) > 0 and len(lean.train_metrics) == 0
    assert len(lean.test_metrics) == len(plain.test_metrics) > 0  # kept
    for module in (plain, lean):
        fit_quietly(module, dm, max_epochs=3, device="cpu", limit_val_batches=0)
    for a, b in zip(plain.parameters(), lean.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(TypeError, match="not a LUQ module"):
        without_training_metrics(nn.Linear(1, 1))


def test_train_luq_trains_without_training_metrics(tmp_path):
    from trustworthy_lib.luq import train_luq

    dm = DictDataModule(_data(30), _data(10, 1))
    kwargs = {"datamodule": dm, "epochs": 2, "directory": tmp_path, "device": "cpu"}
    model, _ = train_luq("mve_lean", {"seed": 2}, _mve, **kwargs)
    assert len(model.train_metrics) == 0
