"""Tests for trustworthy_lib.regression: toy data, stacked ensemble, predictions."""

import numpy as np
import pytest
import torch

from trustworthy_lib.regression import (
    GAPS,
    MLPEnsemble,
    StackedLinear,
    fit_regressor,
    in_gap,
    make_toy_regression,
    noise_std,
    predict_gaussian,
    predict_mc_dropout,
    predict_mean,
    select_mc_dropout_tau,
    toy_regressor,
    true_function,
)
from trustworthy_lib.uncertainty import mc_dropout_tau


def test_toy_data_has_gaps_and_is_reproducible():
    x, y = make_toy_regression(500, seed=0)
    assert x.shape == y.shape == (500, 1) and x.dtype == np.float32
    assert not in_gap(x).any()
    assert x.min() >= -3 and x.max() <= 3
    assert np.all(np.diff(x[:, 0]) >= 0)
    x2, y2 = make_toy_regression(500, seed=0)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(make_toy_regression(500, seed=1)[0], x)


def test_toy_data_noise_follows_noise_std():
    x, y = make_toy_regression(40000, seed=0)
    resid = y[:, 0] - true_function(x[:, 0])
    for lo, hi in [(-3.0, -2.0), (2.0, 3.0)]:
        sel = (x[:, 0] > lo) & (x[:, 0] < hi)
        expected = np.sqrt(np.mean(noise_std(x[sel, 0]) ** 2))
        assert resid[sel].std() == pytest.approx(expected, rel=0.05)
    assert (
        noise_std(3.0) > 5 * noise_std(-3.0)
        and (noise_std(np.linspace(-10, 10, 50)) > 0).all()
    )


def test_toy_data_fills_the_allowed_region_uniformly():
    x, _ = make_toy_regression(60000, seed=2, x_range=(0.0, 4.0), gaps=((1.0, 2.0),))
    assert not in_gap(x, ((1.0, 2.0),)).any()
    counts = np.histogram(x, bins=[0, 1, 2, 3, 4])[0]
    assert counts[1] == 0
    assert np.allclose(counts[[0, 2, 3]] / 60000, 1 / 3, atol=0.01)


def test_toy_data_bad_input():
    with pytest.raises(ValueError, match="positive integer"):
        make_toy_regression(0, seed=0)
    with pytest.raises(ValueError, match="inside x_range"):
        make_toy_regression(10, seed=0, gaps=((-5.0, 0.0),))
    with pytest.raises(ValueError, match="overlap"):
        make_toy_regression(10, seed=0, gaps=((-2.0, 0.0), (-1.0, 1.0)))
    with pytest.raises(ValueError, match="low < high"):
        make_toy_regression(10, seed=0, x_range=(1.0, 1.0), gaps=())


def test_stacked_linear_equals_a_loop_over_members():
    torch.manual_seed(0)
    layer = StackedLinear(3, 4, 2)
    x = torch.randn(3, 5, 4)
    out = layer(x)
    for m in range(3):
        assert torch.allclose(out[m], x[m] @ layer.weight[m] + layer.bias[m], atol=1e-6)


def test_ensemble_members_are_independent():
    torch.manual_seed(0)
    net = MLPEnsemble(members=3, hidden=8, outputs=2)
    x = torch.linspace(-1, 1, 7)[:, None]
    out = net(x)
    assert out.shape == (3, 7, 2)
    out[0].sum().backward()  # member 0's loss
    for p in net.parameters():
        assert p.grad[1:].abs().sum() == 0 and p.grad[0].abs().sum() > 0
    mean, var = net.mean_var(x)
    assert mean.shape == var.shape == (3, 7) and (var > 0).all()


def test_mlp_bad_input():
    with pytest.raises(ValueError, match="outputs"):
        MLPEnsemble(outputs=3)
    with pytest.raises(ValueError, match="dropout"):
        MLPEnsemble(dropout=1.0)
    with pytest.raises(ValueError, match="activation"):
        MLPEnsemble(activation="gelu")
    with pytest.raises(ValueError, match=r"\(N, 1\)"):
        MLPEnsemble()(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="outputs=2"):
        MLPEnsemble(outputs=1).mean_var(torch.zeros(4, 1))


def test_heteroscedastic_fit_recovers_the_noise():
    # linear data whose noise std is 0.1 on the left half and 0.5 on the right half
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (400, 1)).astype(np.float32)
    sigma = np.where(x < 0, 0.1, 0.5)
    y = (2 * x + sigma * rng.standard_normal(x.shape)).astype(np.float32)
    torch.manual_seed(0)
    net = MLPEnsemble(members=2, hidden=16, outputs=2)
    info = fit_regressor(
        net, x, y, loss="gaussian_nll", steps=600, lr=1e-2, progress=False, device="cpu"
    )
    assert info["loss"][-1] < info["loss"][0]
    mean, ale, epi = predict_gaussian(net, [-0.5, 0.5])
    assert np.allclose(mean, [-1.0, 1.0], atol=0.15)
    assert np.sqrt(ale) == pytest.approx([0.1, 0.5], rel=0.35)
    assert (epi >= 0).all()


def test_mse_fit_and_single_net_has_no_epistemic():
    x = np.linspace(-1, 1, 50, dtype=np.float32)[:, None]
    y = 3 * x
    torch.manual_seed(0)
    net = MLPEnsemble(hidden=16)
    fit_regressor(net, x, y, steps=300, progress=False, device="cpu")
    assert np.allclose(predict_mean(net, [0.0, 0.5]), [0.0, 1.5], atol=0.1)
    het = MLPEnsemble(hidden=8, outputs=2)
    _, _, epi = predict_gaussian(het, [0.0, 1.0])
    assert np.allclose(epi, 0.0)


def test_fit_bad_input():
    net = MLPEnsemble(hidden=4)
    with pytest.raises(ValueError, match="loss must be"):
        fit_regressor(net, [[0.0]], [0.0], loss="mae")
    with pytest.raises(ValueError, match="outputs=2"):
        fit_regressor(net, [[0.0]], [0.0], loss="gaussian_nll")
    with pytest.raises(ValueError, match="3 points but y has 2"):
        fit_regressor(net, [[0.0], [1.0], [2.0]], [0.0, 1.0], steps=1)
    with pytest.raises(ValueError, match="NaN"):
        fit_regressor(net, [[np.nan]], [0.0], steps=1)


def test_mc_dropout_regression_decomposition():
    torch.manual_seed(0)
    net = MLPEnsemble(hidden=32, dropout=0.3)
    x = np.linspace(-2, 2, 9)
    mean, ale, epi = predict_mc_dropout(net, x, n_samples=50, tau=4.0, seed=0)
    assert mean.shape == ale.shape == epi.shape == (9,)
    assert np.allclose(ale, 0.25)  # tau^-1, the same everywhere
    assert (epi > 0).all()
    with pytest.raises(ValueError, match="tau"):
        predict_mc_dropout(net, x, 5, tau=0.0)
    with pytest.raises(ValueError, match="no dropout"):
        predict_mc_dropout(MLPEnsemble(hidden=4), x, 5, tau=1.0)


def test_select_mc_dropout_tau_picks_the_likeliest_noise_level():
    torch.manual_seed(0)
    net = MLPEnsemble(hidden=16, dropout=0.1)
    x = np.linspace(-1, 1, 200, dtype=np.float32)[:, None]
    y = np.zeros_like(x)
    fit_regressor(net, x, y, steps=200, progress=False, weight_decay=1e-4, device="cpu")
    rng = np.random.default_rng(0)
    y_val = (0.5 * rng.standard_normal(x.shape)).astype(
        np.float32
    )  # noise variance 0.25
    grid = np.geomspace(0.05, 5, 41)
    res = select_mc_dropout_tau(
        net, x, y_val, dropout=0.1, n_train=200, weight_decay=1e-4, length_scales=grid
    )
    assert res["nll"].shape == (41,) and res["nll"].argmin() == np.argmin(
        np.abs(res["taus"] - res["tau"])
    )
    assert res["tau"] == pytest.approx(
        mc_dropout_tau(res["length_scale"], 0.1, 200, 1e-4)
    )
    assert 1 / res["tau"] == pytest.approx(0.25, rel=0.35)
    with pytest.raises(ValueError, match="positive numbers"):
        select_mc_dropout_tau(
            net, x, y_val, dropout=0.1, n_train=200, weight_decay=1e-4, length_scales=[]
        )


def test_toy_regressor_caches(tmp_path):
    m1, info1 = toy_regressor(
        "heteroscedastic",
        n_train=30,
        steps=20,
        hidden=8,
        progress=False,
        directory=tmp_path,
    )
    m2, info2 = toy_regressor(
        "heteroscedastic",
        n_train=30,
        steps=20,
        hidden=8,
        progress=False,
        directory=tmp_path,
    )
    assert not info1["cached"] and info2["cached"]
    assert info2["train_seconds"] == info1["train_seconds"]
    for a, b in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(a.cpu(), b.cpu())
    with pytest.raises(ValueError, match="kind"):
        toy_regressor("bayesian", n_train=10)
    with pytest.raises(ValueError, match="only kind='ensemble'"):
        toy_regressor("deterministic", n_train=10, members=3)


def test_default_gap_is_inside_the_range():
    assert all(-3 < a < b < 3 for a, b in GAPS)


def test_predict_members_gives_the_parts_of_the_total_variance():
    from trustworthy_lib.regression import predict_members

    torch.manual_seed(0)
    model = MLPEnsemble(members=3, outputs=2, activation="silu")
    x = np.linspace(-4, 4, 25)
    means, variances = predict_members(model, x)
    assert means.shape == variances.shape == (3, 25) and (variances > 0).all()
    mean, ale, epi = predict_gaussian(model, x)
    np.testing.assert_allclose(means.mean(0), mean, rtol=1e-6)
    np.testing.assert_allclose(variances.mean(0), ale, rtol=1e-6)
    np.testing.assert_allclose(((means - means.mean(0)) ** 2).mean(0), epi, atol=1e-10)
    with pytest.raises(ValueError, match="outputs=2"):
        predict_members(MLPEnsemble(members=2, outputs=1), x)
