"""Tests for trustworthy_lib.uncertainty: identities, agreement with uncertainty-loss
and torch, bad input.
"""

import inspect
import math

import numpy as np
import pytest
import torch
import uncertainty_loss as ul
from torch import nn

from trustworthy_lib.uncertainty import (
    EvidentialCriterion,
    clamped_exp,
    dirichlet_entropy_decomposition,
    dirichlet_probs,
    dirichlet_vacuity,
    dropout_active,
    ensemble_predict,
    entropy_decomposition,
    evidential_loss,
    gaussian_nll,
    maxnorm_loss,
    mc_dropout_predict,
    mc_dropout_samples,
    mc_dropout_tau,
    variance_decomposition,
)


def random_evidence(n=64, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(n, c, generator=g, dtype=torch.float64)
    targets = torch.randint(0, c, (n,), generator=g)
    return clamped_exp(logits), targets


# --- evidential losses against the uncertainty-loss package ---------------------------


def test_signatures_match_uncertainty_loss():
    for ours, theirs in [
        (evidential_loss, ul.evidential_loss),
        (maxnorm_loss, ul.maxnorm_loss),
    ]:
        a, b = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
        assert list(a)[2:] == list(b)[2:]
        assert [p.default for p in a.values()][2:] == [p.default for p in b.values()][
            2:
        ]
    assert inspect.signature(clamped_exp).parameters["clamp"].default == 10.0


@pytest.mark.parametrize(
    "reg_factor, reduction",
    [(0.0, "mean"), (0.3, "mean"), (1.0, "mean"), (0.0, "sum"), (0.0, "none")],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_evidential_loss_matches_uncertainty_loss(reg_factor, reduction, seed):
    e, y = random_evidence(seed=seed)
    ours = evidential_loss(e, y, reg_factor=reg_factor, reduction=reduction)
    theirs = ul.evidential_loss(e, y, reg_factor=reg_factor, reduction=reduction)
    assert torch.allclose(
        ours, theirs, rtol=1e-6, atol=1e-7
    )  # the package computes log Gamma(K) in float32


def test_evidential_kl_per_row_matches_package_diagonal():
    # uncertainty-loss 0.1.2 broadcasts its KL term to an (N, N) matrix when reduction
    # is "none" (and so multiplies "sum" by N); entry [i, i] is row i's KL, which must
    # equal ours.
    e, y = random_evidence(seed=3)
    ours = evidential_loss(e, y, reg_factor=1.0, reduction="none") - evidential_loss(
        e, y, reduction="none"
    )
    theirs = ul.uniform_dirichlet_kl(e, y, reduction="none")
    assert theirs.shape == (64, 64)
    assert torch.allclose(ours, torch.diagonal(theirs), rtol=1e-6, atol=1e-6)
    # our sum is the sum of the rows, and our mean their mean
    assert torch.allclose(
        evidential_loss(e, y, 0.5, "sum"), evidential_loss(e, y, 0.5, "none").sum()
    )
    assert torch.allclose(
        evidential_loss(e, y, 0.5, "mean"),
        ul.evidential_loss(e, y, 0.5, "mean"),
        rtol=1e-6,
    )


@pytest.mark.parametrize("reg_factor", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("p_norm", [2, 4, 8])
def test_maxnorm_loss_matches_uncertainty_loss(reg_factor, reduction, p_norm):
    e, y = random_evidence(seed=p_norm)
    ours = maxnorm_loss(e, y, reg_factor=reg_factor, p_norm=p_norm, reduction=reduction)
    theirs = ul.maxnorm_loss(
        e, y, reg_factor=reg_factor, p_norm=p_norm, reduction=reduction
    )
    assert torch.allclose(ours, theirs, rtol=1e-8, atol=1e-10)


def test_losses_accept_one_hot_targets_like_the_package():
    e, y = random_evidence()
    onehot = nn.functional.one_hot(y, 5).double()
    for fn, ulfn in [
        (evidential_loss, ul.evidential_loss),
        (maxnorm_loss, ul.maxnorm_loss),
    ]:
        assert torch.allclose(fn(e, onehot, 0.5), ulfn(e, onehot, 0.5))
        assert torch.allclose(fn(e, onehot, 0.5), fn(e, y, 0.5))


def test_losses_match_package_gradients_in_float32():
    logits = torch.randn(32, 4, requires_grad=True)
    y = torch.randint(0, 4, (32,))
    for fn, ulfn in [
        (evidential_loss, ul.evidential_loss),
        (maxnorm_loss, ul.maxnorm_loss),
    ]:
        (g1,) = torch.autograd.grad(fn(clamped_exp(logits), y, 0.7), logits)
        (g2,) = torch.autograd.grad(ulfn(ul.clamped_exp(logits), y, 0.7), logits)
        assert torch.allclose(g1, g2, rtol=1e-4, atol=1e-6)


def test_evidential_loss_known_value_without_evidence():
    # no evidence: alpha = 1, p = 1/K; loss = (1-1/K)^2 + (K-1)/K^2 + K *
    # (1/K)(1-1/K)/(K+1)
    k = 4
    e = torch.zeros(3, k, dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    expected = (1 - 1 / k) ** 2 + (k - 1) / k**2 + (1 - 1 / k) / (k + 1)
    assert evidential_loss(e, y).item() == pytest.approx(expected)
    # with no wrong-class evidence the KL term is 0 whatever the factor
    assert evidential_loss(e, y, reg_factor=1.0).item() == pytest.approx(expected)


def test_clamped_exp_matches_package():
    x = torch.linspace(-30, 30, 101)
    assert torch.equal(clamped_exp(x), ul.clamped_exp(x))
    assert torch.equal(clamped_exp(x, 3.0), ul.clamped_exp(x, 3.0))
    assert clamped_exp(torch.tensor([100.0])).item() == pytest.approx(math.exp(10.0))


def test_dirichlet_decomposition_matches_package():
    e, _ = random_evidence(n=50, c=6)
    total, ale, epi = dirichlet_entropy_decomposition(e)
    assert np.allclose(total, ul.uncertainty(e).numpy())
    assert np.allclose(ale, ul.data_uncertainty(e).numpy())
    assert np.allclose(epi, ul.model_uncertainty(e).numpy())
    assert np.allclose(total, ale + epi) and (epi > 0).all()


def test_dirichlet_probs_and_vacuity():
    e = np.array([[0.0, 0.0, 0.0], [8.0, 1.0, 0.0]])
    assert np.allclose(dirichlet_probs(e), [[1 / 3] * 3, [9 / 12, 2 / 12, 1 / 12]])
    assert np.allclose(dirichlet_vacuity(e), [1.0, 3 / 12])


def test_evidential_criterion_anneals_from_zero_to_max():
    crit = EvidentialCriterion("maxnorm", anneal_steps=4, max_reg=1.0)
    logits = torch.randn(16, 3, dtype=torch.float64)
    y = torch.randint(0, 3, (16,))
    factors = []
    for _ in range(6):
        factors.append(crit.reg_factor)
        expected = maxnorm_loss(clamped_exp(logits), y, reg_factor=factors[-1])
        assert torch.allclose(crit(logits, y), expected)
    assert factors == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    crit = EvidentialCriterion("evidential", anneal_steps=2, max_reg=0.5)
    crit(logits, y)
    assert crit.reg_factor == 0.25
    assert torch.allclose(
        crit(logits, y), evidential_loss(clamped_exp(logits), y, reg_factor=0.25)
    )


def test_evidential_bad_input():
    e, y = random_evidence()
    with pytest.raises(ValueError, match="non-negative"):
        evidential_loss(-e, y)
    with pytest.raises(ValueError, match="64 rows but targets has 3"):
        maxnorm_loss(e, y[:3])
    with pytest.raises(ValueError, match="outside 0..4"):
        evidential_loss(e, y + 5)
    with pytest.raises(ValueError, match="reduction"):
        evidential_loss(e, y, reduction="median")
    with pytest.raises(ValueError, match="shape"):
        evidential_loss(e[0], y[:1])
    with pytest.raises(ValueError, match="torch tensors"):
        maxnorm_loss(e.numpy(), y)
    with pytest.raises(ValueError, match="p_norm"):
        maxnorm_loss(e, y, p_norm=0)
    with pytest.raises(ValueError, match="loss must be"):
        EvidentialCriterion("cross_entropy")
    with pytest.raises(ValueError, match="clamped_exp"):
        dirichlet_vacuity(-np.ones((2, 3)))


# --- decompositions -------------------------------------------------------------------


def random_prob_samples(s=6, n=40, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return torch.softmax(
        torch.as_tensor(2 * rng.standard_normal((s, n, c))), dim=-1
    ).numpy()


def test_entropy_decomposition_identity_and_bounds():
    p = random_prob_samples()
    total, ale, epi = entropy_decomposition(p)
    assert total.shape == ale.shape == epi.shape == (40,)
    assert np.allclose(total, ale + epi, atol=1e-12)
    assert (epi >= 0).all() and (epi <= np.log(6) + 1e-12).all()
    assert (total <= np.log(4) + 1e-12).all()


def test_entropy_decomposition_identical_members_have_no_epistemic():
    p = np.repeat(random_prob_samples(s=1), 7, axis=0)
    total, ale, epi = entropy_decomposition(p)
    assert np.allclose(epi, 0.0, atol=1e-12)
    assert np.allclose(total, ale)


def test_entropy_decomposition_known_values():
    # two confident members that disagree: no aleatoric, log 2 epistemic
    p = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    total, ale, epi = entropy_decomposition(p)
    assert (
        total[0] == pytest.approx(np.log(2))
        and ale[0] == pytest.approx(0.0)
        and epi[0] == pytest.approx(np.log(2))
    )
    # two members that agree on (0.5, 0.5): all aleatoric
    total, ale, epi = entropy_decomposition(np.full((2, 1, 2), 0.5))
    assert ale[0] == pytest.approx(np.log(2)) and epi[0] == pytest.approx(0.0)


def test_entropy_decomposition_bad_input():
    with pytest.raises(ValueError, match=r"\(S, N, C\)"):
        entropy_decomposition(np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="softmax"):
        entropy_decomposition(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        entropy_decomposition(np.full((1, 1, 2), np.nan))
    with pytest.raises(ValueError, match="empty"):
        entropy_decomposition(np.zeros((0, 3, 2)))


def test_variance_decomposition_law_of_total_variance():
    rng = np.random.default_rng(0)
    means = rng.standard_normal((5, 30))
    variances = rng.uniform(0.1, 1.0, (5, 30))
    mean, ale, epi = variance_decomposition(means, variances)
    assert np.allclose(mean, means.mean(0))
    assert np.allclose(ale, variances.mean(0))
    assert np.allclose(epi, (means**2).mean(0) - means.mean(0) ** 2)
    # the mixture's variance, estimated by sampling, matches aleatoric + epistemic
    member = rng.integers(0, 5, 200000)
    draws = means[member, 3] + np.sqrt(variances[member, 3]) * rng.standard_normal(
        200000
    )
    assert draws.var() == pytest.approx(ale[3] + epi[3], rel=0.02)


def test_variance_decomposition_scalar_variance_and_bad_input():
    means = np.zeros((3, 4))
    _, ale, epi = variance_decomposition(means, 0.25)
    assert np.allclose(ale, 0.25) and np.allclose(epi, 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        variance_decomposition(means, -1.0)
    with pytest.raises(ValueError, match="broadcast"):
        variance_decomposition(means, np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"\(S, N\)"):
        variance_decomposition(np.zeros(3), 1.0)


# --- Gaussian NLL against torch -------------------------------------------------------


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_nll_matches_torch(full, reduction):
    g = torch.Generator().manual_seed(0)
    mean, target = torch.randn(50, generator=g), torch.randn(50, generator=g)
    var = torch.rand(50, generator=g) + 1e-8  # some below eps, to check the clamp
    var[:3] = 1e-9
    expected = nn.GaussianNLLLoss(full=full, eps=1e-6, reduction=reduction)(
        mean, target, var
    )
    assert torch.allclose(
        gaussian_nll(mean, target, var, full=full, reduction=reduction), expected
    )


def test_gaussian_nll_known_values():
    zero = torch.zeros(4)
    one = torch.ones(4)
    assert gaussian_nll(zero, zero, one).item() == pytest.approx(0.0)
    assert gaussian_nll(zero, zero, one, full=True).item() == pytest.approx(
        0.5 * math.log(2 * math.pi)
    )
    assert gaussian_nll(zero, 2 * one, 4 * one).item() == pytest.approx(
        0.5 * (math.log(4) + 1)
    )


def test_gaussian_nll_bad_input():
    with pytest.raises(ValueError, match="must match"):
        gaussian_nll(torch.zeros(3), torch.zeros(4), torch.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        gaussian_nll(torch.zeros(3), torch.zeros(3), -torch.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        gaussian_nll(torch.tensor([float("nan")]), torch.zeros(1), torch.ones(1))


def test_mc_dropout_tau_known_value_and_bad_input():
    # tau = (1 - p) l^2 / (2 N lambda)
    assert mc_dropout_tau(
        length_scale=2.0, dropout=0.5, n_train=100, weight_decay=1e-3
    ) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="dropout"):
        mc_dropout_tau(1.0, 1.0, 10, 1e-3)
    with pytest.raises(ValueError, match="n_train"):
        mc_dropout_tau(1.0, 0.1, 0, 1e-3)


# --- MC dropout and ensembles ---------------------------------------------------------


class NetWithBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(3, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(16, 4))
        self.seen_modes = []
        self.trunk[1].register_forward_hook(
            lambda m, i, o: self.seen_modes.append((m.training, self.head[0].training))
        )

    def forward(self, x):
        return self.head(self.trunk(x))


def make_net():
    torch.manual_seed(0)
    net = NetWithBatchNorm()
    net.train()
    net(torch.randn(64, 3))  # give batch norm non-trivial running statistics
    net.seen_modes.clear()
    return net


@pytest.mark.parametrize("start_in_train_mode", [True, False])
def test_mc_dropout_keeps_batchnorm_in_eval_and_restores_modes(start_in_train_mode):
    net = make_net()
    net.train(start_in_train_mode)
    before = {name: m.training for name, m in net.named_modules()}
    stats = net.trunk[1].running_mean.clone(), net.trunk[1].running_var.clone()
    probs = mc_dropout_predict(net, torch.randn(10, 3), n_samples=5, seed=0)
    assert probs.shape == (5, 10, 4)
    assert np.allclose(probs.sum(-1), 1.0, atol=1e-6)
    # during the passes: batch norm in eval, dropout in train
    assert net.seen_modes and all(mode == (False, True) for mode in net.seen_modes)
    # running statistics untouched, and every module back in its former mode
    assert torch.equal(stats[0], net.trunk[1].running_mean) and torch.equal(
        stats[1], net.trunk[1].running_var
    )
    assert {name: m.training for name, m in net.named_modules()} == before


def test_mc_dropout_samples_differ_and_seed_reproduces():
    net = make_net()
    x = torch.randn(20, 3)
    a = mc_dropout_predict(net, x, n_samples=4, seed=1)
    b = mc_dropout_predict(net, x, n_samples=4, seed=1)
    assert np.array_equal(a, b)
    assert not np.allclose(a[0], a[1])
    # the global RNG is left alone
    state = torch.get_rng_state()
    mc_dropout_predict(net, x, n_samples=2, seed=3)
    assert torch.equal(state, torch.get_rng_state())


def test_mc_dropout_with_trunk_equals_full_model():
    net = make_net()
    x = torch.randn(20, 3)
    full = mc_dropout_samples(net, x, n_samples=3, seed=7)
    split = mc_dropout_samples(net.head, x, n_samples=3, seed=7, trunk=net.trunk)
    assert np.allclose(full, split, atol=1e-6)


def test_dropout_active_restores_modes_after_an_error():
    net = make_net().eval()
    with pytest.raises(RuntimeError):
        with dropout_active(net):
            assert net.head[0].training and not net.trunk[1].training
            raise RuntimeError("boom")
    assert not any(m.training for m in net.modules())


def test_mc_dropout_bad_input():
    net = make_net()
    with pytest.raises(ValueError, match="no dropout layers"):
        mc_dropout_predict(nn.Linear(3, 2), torch.randn(2, 3), 3)
    with pytest.raises(ValueError, match="n_samples"):
        mc_dropout_predict(net, torch.randn(2, 3), 0)
    with pytest.raises(ValueError, match="empty"):
        mc_dropout_predict(net, torch.zeros(0, 3), 2)
    with pytest.raises(ValueError, match="NaN"):
        mc_dropout_predict(net, torch.full((2, 3), float("nan")), 2)
    with pytest.raises(ValueError, match="trunk contains dropout"):
        mc_dropout_predict(net.head, torch.randn(2, 16), 2, trunk=net.head)


def test_ensemble_predict_is_softmax_of_each_member():
    torch.manual_seed(0)
    members = [nn.Sequential(nn.Linear(3, 4)) for _ in range(3)]
    x = torch.randn(6, 3)
    probs = ensemble_predict(members, x)
    assert probs.shape == (3, 6, 4)
    with torch.no_grad():
        expected = np.stack([torch.softmax(m(x), 1).numpy() for m in members])
    assert np.allclose(probs, expected, atol=1e-6)
    # identical members: zero epistemic uncertainty
    _, _, epi = entropy_decomposition(ensemble_predict([members[0]] * 4, x))
    assert np.allclose(epi, 0.0, atol=1e-7)


def test_ensemble_predict_bad_input():
    with pytest.raises(ValueError, match="empty"):
        ensemble_predict([], torch.randn(2, 3))
    with pytest.raises(ValueError, match="disagree"):
        ensemble_predict([nn.Linear(3, 2), nn.Linear(3, 4)], torch.randn(2, 3))


def test_predictive_entropy_and_ood_auroc_known_values():
    from sklearn.metrics import roc_auc_score

    from trustworthy_lib.uncertainty import ood_auroc, predictive_entropy

    p = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0]])
    np.testing.assert_allclose(predictive_entropy(p), [0.0, math.log(4), math.log(2)])
    assert ood_auroc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert ood_auroc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert ood_auroc([0.1, 0.3], [0.2, 0.4]) == 0.75  # 3 of 4 pairs ordered correctly
    rng = np.random.default_rng(0)
    s_id, s_ood = rng.normal(size=50), rng.normal(0.5, size=30)
    expected = roc_auc_score(np.r_[np.zeros(50), np.ones(30)], np.r_[s_id, s_ood])
    assert ood_auroc(s_id, s_ood) == pytest.approx(expected)


def test_compare_methods_rows_match_the_metrics():
    from trustworthy_lib.calibration import probabilistic_scores
    from trustworthy_lib.uncertainty import (
        MethodPredictions,
        compare_methods,
        ood_auroc,
    )

    rng = np.random.default_rng(0)
    p_id = torch.softmax(torch.as_tensor(3 * rng.normal(size=(200, 4))), 1).numpy()
    p_ood = torch.softmax(torch.as_tensor(rng.normal(size=(100, 4))), 1).numpy()
    y = rng.integers(0, 4, 200)
    s_id, s_ood = rng.random(200), rng.random(100) + 0.5
    table = compare_methods(
        {"a": MethodPredictions(p_id, p_ood, "made up", s_id, s_ood, 3, 1.5)}, y
    )
    row = table.loc["a"]
    ref = probabilistic_scores(p_id, y)
    assert row["accuracy"] == pytest.approx(ref["accuracy"])
    assert row["NLL"] == pytest.approx(ref["nll"])
    assert row["Brier"] == pytest.approx(ref["brier"])
    assert row["ECE (%)"] == pytest.approx(100 * ref["ece"])
    assert row["OOD AUROC (own score)"] == pytest.approx(ood_auroc(s_id, s_ood))
    # the softer OOD probabilities have higher entropy
    assert row["OOD AUROC (entropy)"] > 0.8
    assert row["forward passes"] == 3 and row["training time (s)"] == 1.5
    with pytest.raises(ValueError, match="one value per row"):
        compare_methods(
            {"b": MethodPredictions(p_id, p_ood, "x", s_id[:5], s_ood, 1, 0.0)}, y
        )
    with pytest.raises(TypeError, match="MethodPredictions"):
        compare_methods({"c": (p_id, p_ood)}, y)


def test_gaussian_nll_refuses_a_variance_that_broadcasts_to_a_matrix():
    mean, target = torch.zeros(5), torch.arange(5.0)
    with pytest.raises(ValueError, match="shape"):
        gaussian_nll(mean, target, torch.ones(5, 1))
    # for (N, 1) means, a per-sample variance of shape (N,) and a shared (N, 1) work
    var = torch.linspace(0.5, 2.0, 5)
    expected = nn.functional.gaussian_nll_loss(mean, target, var, full=True)
    assert gaussian_nll(mean, target, var, full=True).item() == pytest.approx(
        expected.item()
    )
