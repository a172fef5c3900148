import itertools
import math
import warnings

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor

from trustworthy_lib.conformal import (
    PrefitProbabilities,
    SplitConformalClassifier,
    SplitConformalRegressor,
    area_under_risk_coverage,
    classification_scores,
    conformal_quantile,
    coverage,
    coverage_by_group,
    coverage_over_splits,
    group_coverage_over_splits,
    mean_set_size,
    mean_width,
    quantile_rank,
    quantile_rank_min_n,
    risk_coverage_curve,
    split_permutations,
    threshold_for_accuracy,
)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make_classification(n, n_classes=5, seed=0, scale=2.0):
    """Probabilities of a calibrated model: the labels are drawn from them."""
    rng = np.random.default_rng(seed)
    p = softmax(scale * rng.normal(size=(n, n_classes)))
    u = rng.random(n)[:, None]
    y = (p.cumsum(axis=1) < u).sum(axis=1).clip(max=n_classes - 1)
    return p, y


class FirstColumn(RegressorMixin, BaseEstimator):
    """A 'prefit' regressor whose input already is the point prediction."""

    def fit(self, X, y):
        self.fitted_ = True
        return self

    def predict(self, X):
        return np.asarray(X)[:, 0]


# ---------------------------------------------------------------------------
# The conformal quantile


def test_conformal_quantile_known_values():
    scores = np.arange(1.0, 11.0)[::-1]  # 10 scores, order must not matter
    assert conformal_quantile(scores, 0.1) == 10.0  # ceil(11 * 0.9) = 10
    assert conformal_quantile(scores, 0.2) == 9.0  # ceil(11 * 0.8) = 9
    assert conformal_quantile(scores, 0.5) == 6.0  # ceil(11 * 0.5) = 6
    nine = np.arange(1.0, 10.0)
    assert conformal_quantile(nine, 0.1) == 9.0  # 10 * 0.9 is 9, not 9.000...02
    assert conformal_quantile(nine[:8], 0.1) == math.inf  # rank 9 > 8 scores


def test_quantile_rank_and_smallest_n():
    assert quantile_rank(100, 0.1) == 91
    assert quantile_rank(199, 0.1) == 180
    assert quantile_rank_min_n(0.1) == 9
    assert quantile_rank_min_n(0.05) == 19
    for alpha in (0.1, 0.05, 0.2, 0.3):
        n = quantile_rank_min_n(alpha)
        assert quantile_rank(n, alpha) <= n and quantile_rank(n - 1, alpha) > n - 1


def test_conformal_quantile_agrees_with_mapie():
    from mapie.utils import _compute_classification_quantile

    rng = np.random.default_rng(1)
    for n in (50, 101, 333, 1000):
        s = rng.random(n)
        for alpha in (0.05, 0.1, 0.23):
            ours = conformal_quantile(s, alpha)
            theirs = _compute_classification_quantile(s, np.array([alpha]))[0]
            assert ours == theirs, (n, alpha)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, float("nan"), "a"])
def test_conformal_quantile_rejects_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        conformal_quantile([0.1, 0.2, 0.3], alpha)


@pytest.mark.parametrize("scores", [[], [0.1, np.nan], [0.1, np.inf]])
def test_conformal_quantile_rejects_bad_scores(scores):
    with pytest.raises(ValueError, match=r"empty|NaN"):
        conformal_quantile(scores, 0.1)


# ---------------------------------------------------------------------------
# Classification scores and sets


def test_classification_scores_known_values():
    p = np.array([[0.5, 0.3, 0.2], [0.2, 0.5, 0.3]])
    np.testing.assert_allclose(
        classification_scores(p, "lac"), [[0.5, 0.7, 0.8], [0.8, 0.5, 0.7]]
    )
    np.testing.assert_allclose(
        classification_scores(p, "aps"), [[0.5, 0.8, 1.0], [1.0, 0.5, 0.8]]
    )
    raps = classification_scores(p, "raps", k_reg=1, lam=0.1)
    np.testing.assert_allclose(raps, [[0.5, 0.9, 1.2], [1.2, 0.5, 0.9]])
    raps0 = classification_scores(p, "raps", k_reg=0, lam=0.1)
    np.testing.assert_allclose(raps0, [[0.6, 1.0, 1.3], [1.3, 0.6, 1.0]])


def test_lac_sets_equal_mapie():
    from mapie.classification import SplitConformalClassifier as MapieClassifier

    p, y = make_classification(1200, seed=2)
    est = PrefitProbabilities(n_classes=5)
    for alpha in (0.05, 0.1, 0.2):
        mapie = MapieClassifier(
            estimator=est,
            confidence_level=1 - alpha,
            conformity_score="lac",
            prefit=True,
        ).conformalize(p[:600], y[:600])
        _, theirs = mapie.predict_set(p[600:])
        ours = (
            SplitConformalClassifier(alpha, "lac")
            .fit(p[:600], y[:600])
            .predict_sets(p[600:])
        )
        assert ours.dtype == bool and ours.shape == (600, 5)
        np.testing.assert_array_equal(ours, theirs[:, :, 0])


@pytest.mark.parametrize("method", ["lac", "aps", "raps"])
def test_marginal_coverage_over_many_splits(method):
    """Mean coverage over random splits is k / (n + 1), inside [1-a, 1-a+1/(n+1)]."""
    p, y = make_classification(1000, seed=3)
    alpha, n_cal = 0.1, 100
    model = SplitConformalClassifier(alpha, method, k_reg=1, lam=0.05)
    perms = split_permutations(len(y), 300, seed=4)
    covs = []
    for perm in perms:  # the class itself, split by split
        cal, test = perm[:n_cal], perm[n_cal:]
        sets = model.fit(p[cal], y[cal]).predict_sets(p[test])
        covs.append(coverage(sets, y[test]))
    covs = np.array(covs)
    # the vectorised version gives the very same numbers
    true_scores = model.scores(p)[np.arange(len(y)), y]
    np.testing.assert_allclose(
        coverage_over_splits(true_scores, n_cal, alpha, 300, seed=4), covs
    )
    # over 5000 splits the mean is within noise of k / (n + 1) = 91 / 101
    many = coverage_over_splits(true_scores, n_cal, alpha, 5000, seed=5)
    noise = 4 * many.std() / np.sqrt(len(many))
    assert abs(many.mean() - 91 / 101) < noise
    assert 1 - alpha - noise <= many.mean() <= 1 - alpha + 1 / (n_cal + 1) + noise


def test_aps_sets_are_nested_in_alpha():
    p, y = make_classification(800, seed=6)
    sets = [
        SplitConformalClassifier(a, "aps").fit(p[:400], y[:400]).predict_sets(p[400:])
        for a in (0.02, 0.05, 0.1, 0.2, 0.4)
    ]
    for bigger, smaller in itertools.pairwise(sets):
        assert np.all(smaller <= bigger)  # smaller set => contained in the bigger one
    assert mean_set_size(sets[0]) > mean_set_size(sets[-1])


def test_aps_and_raps_sets_are_the_top_ranked_classes():
    p, y = make_classification(600, seed=7)
    for method in ("aps", "raps"):
        sets = (
            SplitConformalClassifier(0.1, method)
            .fit(p[:300], y[:300])
            .predict_sets(p[300:])
        )
        order = np.argsort(-p[300:], axis=1, kind="stable")
        in_rank_order = np.take_along_axis(sets, order, axis=1)
        assert np.all(np.diff(in_rank_order.astype(int), axis=1) <= 0)


def test_mondrian_covers_each_group_where_marginal_does_not():
    rng = np.random.default_rng(8)
    n = 8000
    p, y = make_classification(n, seed=9)
    group = np.where(rng.random(n) < 0.3, "hard", "easy")
    hard = group == "hard"
    y = np.where(
        hard, rng.integers(0, 5, n), y
    )  # the model knows nothing about the hard group
    cal, test = np.arange(n) < n // 2, np.arange(n) >= n // 2
    alpha = 0.1
    marginal = SplitConformalClassifier(alpha).fit(p[cal], y[cal]).predict_sets(p[test])
    table = coverage_by_group(marginal, y[test], group[test])
    assert table.loc["hard", "ci_high"] < 1 - alpha  # the hard group is under-covered
    mondrian = SplitConformalClassifier(alpha).fit(p[cal], y[cal], groups=group[cal])
    assert set(mondrian.threshold_) == {"easy", "hard"}
    sets = mondrian.predict_sets(p[test], groups=group[test])
    table = coverage_by_group(sets, y[test], group[test])
    assert (table["ci_high"] >= 1 - alpha).all()
    assert table.loc["hard", "mean set size"] > table.loc["easy", "mean set size"]
    for g in ("easy", "hard"):
        scores = 1 - p[cal & (group == g), y[cal & (group == g)]]
        assert mondrian.threshold_[g] == conformal_quantile(scores, alpha)


def test_classifier_rejects_bad_input():
    p, y = make_classification(50, n_classes=3, seed=10)
    model = SplitConformalClassifier(0.1)
    with pytest.raises(ValueError, match="softmax"):
        model.fit(np.log(p), y)
    with pytest.raises(ValueError, match="class index 3"):
        model.fit(p, np.where(np.arange(50) == 0, 3, y))
    with pytest.raises(ValueError, match="unknown method 'topk'"):
        SplitConformalClassifier(0.1, "topk")
    with pytest.raises(ValueError, match="alpha"):
        SplitConformalClassifier(1.0)
    with pytest.raises(RuntimeError, match="fit"):
        SplitConformalClassifier().predict_sets(p)
    groups = np.array(["a", "b"] * 25)
    model.fit(p, y, groups=groups)
    with pytest.raises(ValueError, match="group 'c' was not in the calibration data"):
        model.predict_sets(p[:3], groups=np.array(["a", "c", "b"]))
    with pytest.raises(ValueError, match="pass groups"):
        model.predict_sets(p)
    with pytest.raises(ValueError, match="fitted without groups"):
        SplitConformalClassifier(0.1).fit(p, y).predict_sets(p, groups=groups)
    with pytest.raises(ValueError, match="3 classes"):
        SplitConformalClassifier(0.1).fit(p, y).predict_sets(softmax(np.zeros((2, 4))))


def test_too_few_calibration_points_warns_and_keeps_every_label():
    p, y = make_classification(8, n_classes=3, seed=11)
    with pytest.warns(UserWarning, match="only 8 calibration point.*at least 9"):
        model = SplitConformalClassifier(0.1).fit(p, y)
    assert model.threshold_ == math.inf
    assert model.predict_sets(p).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SplitConformalClassifier(0.1).fit(*make_classification(9, 3, seed=11))


# ---------------------------------------------------------------------------
# Regression


def test_absolute_intervals_equal_mapie():
    from mapie.regression import SplitConformalRegressor as MapieRegressor

    rng = np.random.default_rng(12)
    pred = rng.normal(size=1000)
    y = pred + rng.standard_t(3, size=1000)
    est = FirstColumn().fit(pred[:, None], y)
    for alpha in (0.05, 0.1, 0.3):
        mapie = MapieRegressor(
            estimator=est,
            confidence_level=1 - alpha,
            conformity_score="absolute",
            prefit=True,
        ).conformalize(pred[:500, None], y[:500])
        _, theirs = mapie.predict_interval(pred[500:, None])
        ours = (
            SplitConformalRegressor(alpha)
            .fit(pred[:500], y[:500])
            .predict_interval(pred[500:])
        )
        np.testing.assert_allclose(ours, theirs[:, :, 0], rtol=0, atol=1e-12)


def test_cqr_intervals_equal_mapie_symmetric():
    from mapie.regression import ConformalizedQuantileRegressor

    rng = np.random.default_rng(13)
    X = rng.normal(size=(1500, 3))
    y = X[:, 0] + (1 + np.abs(X[:, 1])) * rng.normal(size=1500)
    tr, cal, te = slice(0, 500), slice(500, 1000), slice(1000, 1500)
    alpha = 0.1
    models = [
        HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=30).fit(
            X[tr], y[tr]
        )
        for q in (alpha / 2, 1 - alpha / 2, 0.5)
    ]
    mapie = ConformalizedQuantileRegressor(
        models, confidence_level=1 - alpha, prefit=True
    )
    mapie.conformalize(X[cal], y[cal])
    _, theirs = mapie.predict_interval(X[te], symmetric_correction=True)

    def band(rows):
        return np.column_stack([models[0].predict(X[rows]), models[1].predict(X[rows])])

    ours = (
        SplitConformalRegressor(alpha, "cqr")
        .fit(band(cal), y[cal])
        .predict_interval(band(te))
    )
    np.testing.assert_allclose(ours, theirs[:, :, 0], rtol=0, atol=1e-12)


def test_regressor_known_values_and_mondrian():
    pred = np.zeros(9)
    y = np.arange(1.0, 10.0)  # residuals 1..9
    model = SplitConformalRegressor(0.2).fit(pred, y)  # rank ceil(10 * 0.8) = 8
    assert model.threshold_ == 8.0
    np.testing.assert_array_equal(
        model.predict_interval(np.array([1.0])), [[-7.0, 9.0]]
    )
    cqr = SplitConformalRegressor(0.2, "cqr").fit(
        np.column_stack([pred - 5, pred + 5]), y
    )
    assert cqr.threshold_ == 3.0  # scores max(-5 - y, y - 5) = -4..4, 8th smallest = 3
    np.testing.assert_array_equal(
        cqr.predict_interval(np.array([[0.0, 1.0]])), [[-3.0, 4.0]]
    )
    groups = np.array([0] * 9 + [1] * 9)
    both = SplitConformalRegressor(0.2).fit(
        np.zeros(18), np.r_[y, 10 * y], groups=groups
    )
    assert both.threshold_ == {0: 8.0, 1: 80.0}
    iv = both.predict_interval(np.zeros(2), groups=np.array([1, 0]))
    np.testing.assert_array_equal(iv, [[-80.0, 80.0], [-8.0, 8.0]])


def test_regressor_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown score"):
        SplitConformalRegressor(0.1, "quantile")
    with pytest.raises(ValueError, match=r"\(N, 2\) lower/upper"):
        SplitConformalRegressor(0.1, "cqr").fit(np.zeros(20), np.zeros(20))
    with pytest.raises(ValueError, match=r"\(N,\) point"):
        SplitConformalRegressor(0.1).fit(np.zeros((20, 2)), np.zeros(20))
    with pytest.raises(ValueError, match="19 predictions"):
        SplitConformalRegressor(0.1).fit(np.zeros(19), np.zeros(20))
    with pytest.raises(ValueError, match="NaN"):
        SplitConformalRegressor(0.1).fit(np.zeros(20), np.r_[np.zeros(19), np.nan])
    with pytest.raises(ValueError, match="group 7"):
        model = SplitConformalRegressor(0.1).fit(
            np.zeros(20), np.ones(20), groups=np.zeros(20)
        )
        model.predict_interval(np.zeros(2), groups=np.array([0, 7]))


# ---------------------------------------------------------------------------
# Evaluation


def test_coverage_size_and_width_known_values():
    sets = np.array([[True, False, True], [False, False, True], [True, True, True]])
    assert coverage(sets, [0, 0, 1]) == pytest.approx(2 / 3)
    assert mean_set_size(sets) == pytest.approx(2.0)
    iv = np.array([[0.0, 1.0], [0.0, 2.0], [-1.0, 0.0]])
    assert coverage(iv, [1.0, 3.0, -0.5]) == pytest.approx(2 / 3)  # bounds included
    assert mean_width(iv) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="boolean"):
        coverage(np.ones((3, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="class index 5"):
        coverage(sets, [0, 5, 1])


def test_coverage_by_group_matches_binomial_intervals():
    rng = np.random.default_rng(14)
    iv = np.column_stack([-np.ones(300), np.ones(300)])
    y = rng.normal(size=300) * np.r_[np.ones(200), 3 * np.ones(100)]
    groups = np.r_[np.zeros(200, int), np.ones(100, int)]
    table = coverage_by_group(iv, y, groups)
    assert list(table.columns) == ["coverage", "mean width", "n", "ci_low", "ci_high"]
    for g, rows in [(0, slice(0, 200)), (1, slice(200, 300))]:
        k = int(np.sum(np.abs(y[rows]) <= 1))
        ci = binomtest(k, len(y[rows])).proportion_ci(0.95, method="exact")
        assert table.loc[g, "coverage"] == pytest.approx(k / len(y[rows]))
        assert table.loc[g, "ci_low"] == pytest.approx(ci.low)
        assert table.loc[g, "ci_high"] == pytest.approx(ci.high)
        assert table.loc[g, "n"] == len(y[rows])
    all_in = coverage_by_group(iv, np.zeros(300), groups)
    assert (all_in["coverage"] == 1).all() and (all_in["ci_high"] == 1).all()


def test_coverage_over_splits_follows_the_beta_binomial_law():
    """Continuous scores: the count covered in a split is BetaBinomial(m, k, n+1-k)."""
    from scipy.stats import betabinom

    scores = np.random.default_rng(15).random(300)
    n_cal, alpha = 100, 0.1
    covs = coverage_over_splits(scores, n_cal, alpha, n_splits=4000, seed=16)
    m, k = 200, quantile_rank(n_cal, alpha)
    law = betabinom(m, k, n_cal + 1 - k)
    assert abs(covs.mean() - law.mean() / m) < 4 * law.std() / m / np.sqrt(len(covs))
    assert covs.std() == pytest.approx(law.std() / m, rel=0.08)
    with pytest.raises(ValueError, match="n_cal"):
        coverage_over_splits(scores, 300, alpha)


# ---------------------------------------------------------------------------
# Selective classification


def test_risk_coverage_curve_known_values_and_ties():
    cov, risk, thr = risk_coverage_curve([0.6, 0.9, 0.7, 0.8], [1, 1, 1, 0])
    np.testing.assert_allclose(cov, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0, 0.5, 1 / 3, 0.25])
    np.testing.assert_allclose(thr, [0.9, 0.8, 0.7, 0.6])
    assert area_under_risk_coverage(
        [0.6, 0.9, 0.7, 0.8], [1, 1, 1, 0]
    ) == pytest.approx((0 + 0.5 + 1 / 3 + 0.25) / 4)
    cov, risk, thr = risk_coverage_curve([0.9, 0.9, 0.5], [True, False, True])
    np.testing.assert_allclose(cov, [2 / 3, 1.0])
    np.testing.assert_allclose(risk, [0.5, 1 / 3])
    with pytest.raises(ValueError, match="boolean"):
        risk_coverage_curve([0.1, 0.2], [0.5, 1])


def test_aurc_random_confidence_is_the_error_rate_and_a_perfect_one_is_lower():
    rng = np.random.default_rng(17)
    correct = rng.random(20000) < 0.8
    random_aurc = area_under_risk_coverage(rng.random(20000), correct)
    assert random_aurc == pytest.approx(0.2, abs=0.01)
    assert area_under_risk_coverage(correct + 0.1 * rng.random(20000), correct) < 0.05


def test_threshold_for_accuracy():
    conf, ok = [0.6, 0.9, 0.7, 0.8], [1, 1, 1, 0]
    assert threshold_for_accuracy(conf, ok, 0.75) == 0.6  # keep all: accuracy 3/4
    assert threshold_for_accuracy(conf, ok, 0.8) == 0.9  # only the top point reaches it
    assert threshold_for_accuracy([0.5, 0.4], [0, 0], 0.9) == math.inf
    with pytest.raises(ValueError, match="target"):
        threshold_for_accuracy(conf, ok, 1.5)


def test_group_coverage_over_splits_equals_a_loop_over_the_class():
    rng = np.random.default_rng(18)
    p, y = make_classification(400, n_classes=3, seed=19)
    groups = rng.choice(np.array(["a", "b", "c"]), size=400, p=[0.6, 0.3, 0.1])
    true_scores = 1 - p[np.arange(400), y]
    perms = split_permutations(400, 40, seed=20)
    for mondrian in (False, True):
        table = group_coverage_over_splits(
            true_scores, groups, 150, 0.1, n_splits=40, seed=20, mondrian=mondrian
        )
        assert list(table.columns) == ["a", "b", "c"]
        for i, perm in enumerate(perms):
            cal, test = perm[:150], perm[150:]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # group c may have too few points
                model = SplitConformalClassifier(0.1).fit(
                    p[cal], y[cal], groups=groups[cal] if mondrian else None
                )
            sets = model.predict_sets(
                p[test], groups=groups[test] if mondrian else None
            )
            expected = coverage_by_group(sets, y[test], groups[test])["coverage"]
            np.testing.assert_allclose(table.loc[i, expected.index], expected)
    overall = coverage_over_splits(true_scores, 150, 0.1, n_splits=40, seed=20)
    marginal = group_coverage_over_splits(true_scores, groups, 150, 0.1, 40, seed=20)
    counts = np.stack([(groups[perms[:, 150:]] == v).sum(1) for v in "abc"], axis=1)
    np.testing.assert_allclose((marginal.to_numpy() * counts).sum(1) / 250, overall)


def test_prefit_probabilities_hands_back_checked_probabilities():
    p, _ = make_classification(10, n_classes=3, seed=21)
    est = PrefitProbabilities(n_classes=3)
    np.testing.assert_array_equal(est.predict_proba(p), p)
    np.testing.assert_array_equal(est.predict(p), p.argmax(1))
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    with pytest.raises(ValueError, match="softmax"):
        est.predict_proba(np.log(p))
    with pytest.raises(ValueError, match="3 columns for 4 classes"):
        PrefitProbabilities(4).predict_proba(p)
