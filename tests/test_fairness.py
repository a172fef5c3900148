import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from trustworthy_lib import fairness as fx
from trustworthy_lib.fairness import (
    METRIC_NAMES,
    aif360_groups,
    bootstrap_group_metrics,
    chouldechova_fpr,
    from_binary_label_dataset,
    generalized_error_rates,
    group_metrics,
    group_metrics_by_threshold,
    load_meps_panel19,
    positive_probability,
    quiet_import_warnings,
    threshold_optimizer_rules,
    to_binary_label_dataset,
)

with quiet_import_warnings():
    import aif360.datasets.meps_dataset_panel19_fy2015 as meps19_module
    from aif360.algorithms.preprocessing import Reweighing
    from aif360.datasets import BinaryLabelDataset, MEPSDataset19
    from aif360.metrics import ClassificationMetric


def random_problem(seed, n=400, p_priv=0.6, privileged=1, unprivileged=0):
    """Labels, predictions and a two-valued protected column; both labels per group."""
    rng = np.random.default_rng(seed)
    protected = np.where(rng.random(n) < p_priv, privileged, unprivileged)
    y_true = (rng.random(n) < np.where(protected == privileged, 0.45, 0.3)).astype(int)
    scores = np.clip(
        0.35 * y_true + 0.2 * (protected == privileged) + rng.random(n) * 0.6, 0, 1
    )
    y_pred = (scores > 0.5).astype(int)
    return y_true, y_pred, protected, scores


def aif360_reference(y_true, y_pred, protected, privileged, unprivileged):
    # built with AIF360's own constructor, not with the package's converter
    df = pd.DataFrame({"a": protected, "y": y_true}).astype(float)
    ds = BinaryLabelDataset(
        df=df,
        label_names=["y"],
        protected_attribute_names=["a"],
        favorable_label=1.0,
        unfavorable_label=0.0,
    )
    pred = ds.copy(deepcopy=True)
    pred.labels = np.asarray(y_pred, dtype=np.float64).reshape(-1, 1)
    groups = dict(
        unprivileged_groups=[{"a": unprivileged}], privileged_groups=[{"a": privileged}]
    )
    cm = ClassificationMetric(ds, pred, **groups)
    return {
        "disparate_impact": cm.disparate_impact(),
        "statistical_parity_difference": cm.statistical_parity_difference(),
        "equal_opportunity_difference": cm.equal_opportunity_difference(),
        "average_odds_difference": cm.average_odds_difference(),
        "theil_index": cm.theil_index(),
        "balanced_accuracy": 0.5 * (cm.true_positive_rate() + cm.true_negative_rate()),
    }


# ---------------------------------------------------------------------------
# group_metrics


@pytest.mark.parametrize(
    "seed, n, p_priv, privileged, unprivileged",
    [
        (0, 400, 0.6, 1, 0),
        (1, 1000, 0.85, 1, 0),
        (2, 137, 0.3, 1, 0),
        (3, 600, 0.5, 5, 2),
        (4, 250, 0.5, 0, 1),
    ],
)
def test_group_metrics_equals_aif360(seed, n, p_priv, privileged, unprivileged):
    y_true, y_pred, protected, _ = random_problem(
        seed, n, p_priv, privileged, unprivileged
    )
    ours = group_metrics(y_true, y_pred, protected, privileged=privileged)
    ref = aif360_reference(y_true, y_pred, protected, privileged, unprivileged)
    assert set(ours) == set(METRIC_NAMES)
    for k in METRIC_NAMES:
        assert abs(ours[k] - ref[k]) < 1e-9, (k, ours[k], ref[k])


def test_group_metrics_known_values():
    # unprivileged (a=0): y=[1,1,0,0], yhat=[1,0,1,0];
    # privileged (a=1): y=[1,0,0,0], yhat=[1,1,0,0]
    y = [1, 1, 0, 0, 1, 0, 0, 0]
    yhat = [1, 0, 1, 0, 1, 1, 0, 0]
    a = [0, 0, 0, 0, 1, 1, 1, 1]
    m = group_metrics(y, yhat, a)
    assert m["disparate_impact"] == pytest.approx(0.5 / 0.5)
    assert m["statistical_parity_difference"] == pytest.approx(0.0)
    assert m["equal_opportunity_difference"] == pytest.approx(0.5 - 1.0)
    assert m["average_odds_difference"] == pytest.approx(
        0.5 * ((0.5 - 1 / 3) + (0.5 - 1.0))
    )
    assert m["balanced_accuracy"] == pytest.approx(0.5 * (2 / 3 + 3 / 5))
    # b = 1 + yhat - y: [1,0,2,1,1,2,1,1], mean 9/8
    b = np.array([1, 0, 2, 1, 1, 2, 1, 1]) / (9 / 8)
    with np.errstate(divide="ignore", invalid="ignore"):
        theil = np.mean(np.where(b > 0, b * np.log(b), 0.0))
    assert m["theil_index"] == pytest.approx(theil)


def test_group_metrics_perfect_parity_and_accuracy():
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    a = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    m = group_metrics(y, y, a)
    assert m["disparate_impact"] == 1.0 and m["statistical_parity_difference"] == 0.0
    assert (
        m["equal_opportunity_difference"] == 0.0 and m["average_odds_difference"] == 0.0
    )
    assert (
        m["theil_index"] == pytest.approx(0.0, abs=1e-15)
        and m["balanced_accuracy"] == 1.0
    )


def test_group_metrics_accepts_series_strings_and_booleans():
    y_true, y_pred, protected, _ = random_problem(7)
    names = np.where(protected == 1, "white", "black_or_hispanic")
    a = group_metrics(
        pd.Series(y_true), y_pred.astype(bool), pd.Series(names), privileged="white"
    )
    b = group_metrics(y_true, y_pred, protected)
    assert a == b


def test_group_metrics_mismatched_lengths():
    with pytest.raises(
        ValueError,
        match=r"mismatched lengths: y_true has 4, y_pred has 3, protected has 4",
    ):
        group_metrics([0, 1, 0, 1], [0, 1, 1], [0, 0, 1, 1])


def test_group_metrics_single_group():
    with pytest.raises(ValueError, match="single group"):
        group_metrics([0, 1, 0, 1], [0, 1, 1, 0], [1, 1, 1, 1])


def test_group_metrics_three_groups():
    with pytest.raises(ValueError, match="has 3 groups.*Binarise"):
        group_metrics([0, 1, 0], [0, 1, 1], [0, 1, 2])


def test_group_metrics_privileged_value_absent():
    with pytest.raises(ValueError, match="privileged value 'x' does not occur"):
        group_metrics([0, 1, 0, 1], [0, 1, 1, 0], [0, 0, 1, 1], privileged="x")


def test_group_metrics_no_positives_in_a_group_names_metric_and_reason():
    y = [0, 0, 0, 1, 1, 0]
    yhat = [1, 0, 0, 1, 1, 0]
    a = [0, 0, 0, 1, 1, 1]
    with pytest.raises(
        ValueError,
        match=r"unprivileged group has no positive labels .*TP/P is 0/0, so "
        r"equal_opportunity_difference and average_odds_difference are undefined",
    ):
        group_metrics(y, yhat, a)
    m = group_metrics(y, yhat, a, undefined="nan")
    assert np.isnan(m["equal_opportunity_difference"]) and np.isnan(
        m["average_odds_difference"]
    )
    assert m["disparate_impact"] == pytest.approx((1 / 3) / (2 / 3))


def test_group_metrics_no_negatives_in_a_group():
    with pytest.raises(
        ValueError,
        match=r"privileged group has no negative labels .*average_odds_difference",
    ):
        group_metrics([0, 1, 1, 1], [0, 1, 1, 0], [0, 0, 1, 1])


def test_group_metrics_privileged_selects_nobody():
    with pytest.raises(
        ValueError,
        match=r"privileged group has no predicted positives.*disparate_impact",
    ):
        group_metrics([0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1])
    m = group_metrics([0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1], undefined="nan")
    assert np.isnan(m["disparate_impact"]) and m["statistical_parity_difference"] == 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(y_true=[0, 1, np.nan, 1], y_pred=[0, 1, 1, 0], protected=[0, 0, 1, 1]),
            "y_true contains 1 NaN",
        ),
        (
            dict(y_true=[0, 1, 0, 1], y_pred=[0, 0.7, 1, 0], protected=[0, 0, 1, 1]),
            "only 0 .* and 1.*threshold scores",
        ),
        (
            dict(y_true=[0, 1, 0, 1], y_pred=[0, 1, 1, 0], protected=[0, np.nan, 1, 1]),
            "protected has 1 missing group label",
        ),
        (dict(y_true=[], y_pred=[], protected=[]), "is empty"),
        (
            dict(y_true=np.zeros((2, 2)), y_pred=[0, 1], protected=[0, 1]),
            "one-dimensional",
        ),
        (
            dict(y_true=[0, 1], y_pred=[0, 1], protected=[0, 1], undefined="zero"),
            "undefined must be",
        ),
    ],
)
def test_group_metrics_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        group_metrics(**kwargs)


# ---------------------------------------------------------------------------
# group_metrics_by_threshold


def test_group_metrics_by_threshold_matches_a_per_threshold_loop():
    y_true, _, protected, scores = random_problem(11, n=500)
    scores = np.round(scores, 2)  # ties, and thresholds landing exactly on scores
    thresholds = np.concatenate([np.linspace(0, 1, 41), [scores[0], 0.999, 1.5]])
    sweep = group_metrics_by_threshold(scores, y_true, protected, thresholds)
    assert list(sweep.columns[:7]) == ["threshold", *METRIC_NAMES]
    loop = pd.DataFrame(
        [
            group_metrics(y_true, (scores > t).astype(int), protected, undefined="nan")
            for t in thresholds
        ]
    )
    for k in METRIC_NAMES:
        np.testing.assert_allclose(
            sweep[k].to_numpy(), loop[k].to_numpy(), rtol=0, atol=1e-12, equal_nan=True
        )
    assert np.isnan(sweep["disparate_impact"].iloc[-1])  # nobody selected above 1.5
    sel_u = [(scores[protected == 0] > t).mean() for t in thresholds]
    np.testing.assert_allclose(sweep["selection_rate_unprivileged"], sel_u)


def test_group_metrics_by_threshold_bad_inputs():
    y_true, _, protected, scores = random_problem(12, n=50)
    bad = scores.copy()
    bad[3] = np.nan
    with pytest.raises(
        ValueError, match=r"scores contains 1 NaN .*position\(s\) \[3\]"
    ):
        group_metrics_by_threshold(bad, y_true, protected, [0.5])
    with pytest.raises(ValueError, match="mismatched lengths"):
        group_metrics_by_threshold(scores[:-1], y_true, protected, [0.5])
    with pytest.raises(ValueError, match="single group"):
        group_metrics_by_threshold(scores, y_true, np.ones_like(protected), [0.5])
    with pytest.raises(ValueError, match="thresholds contains 1 NaN"):
        group_metrics_by_threshold(scores, y_true, protected, [0.5, np.nan])
    y_no_pos = np.where(protected == 0, 0, y_true)
    with pytest.raises(
        ValueError, match="unprivileged group has no positive labels.*equal_opportunity"
    ):
        group_metrics_by_threshold(scores, y_no_pos, protected, [0.5])


# ---------------------------------------------------------------------------
# bootstrap


def test_bootstrap_replicates_are_resampled_group_metrics():
    y_true, y_pred, protected, scores = random_problem(21, n=300)
    other = (scores > 0.6).astype(int)
    table, reps = bootstrap_group_metrics(
        y_true,
        {"a": y_pred, "b": other},
        protected,
        n_boot=50,
        seed=3,
        return_replicates=True,
    )
    idx = np.random.default_rng(3).integers(0, len(y_true), size=(50, len(y_true)))
    for b in (0, 17, 49):
        i = idx[b]
        for name, pred in (("a", y_pred), ("b", other)):
            expected = group_metrics(y_true[i], pred[i], protected[i], undefined="nan")
            np.testing.assert_allclose(
                reps[name][b], [expected[k] for k in METRIC_NAMES], atol=1e-12
            )
    rows = table[table.model == "b"].set_index("metric")
    # the estimate is the metric on all rows, computed here from its definition
    sel_u, sel_p = other[protected == 0].mean(), other[protected == 1].mean()
    assert rows.loc["disparate_impact", "estimate"] == pytest.approx(
        sel_u / sel_p, abs=1e-12
    )
    assert rows.loc["statistical_parity_difference", "estimate"] == pytest.approx(
        sel_u - sel_p, abs=1e-12
    )
    assert (rows.ci_low <= rows.ci_high).all()
    lo, hi = np.quantile(reps["b"][:, 0], [0.025, 0.975])
    assert rows.loc["disparate_impact", "ci_low"] == pytest.approx(lo)
    assert rows.loc["disparate_impact", "ci_high"] == pytest.approx(hi)
    assert (table.undefined == 0).all()


def test_bootstrap_is_paired_and_seeded():
    y_true, y_pred, protected, _ = random_problem(22, n=200)
    _, reps = bootstrap_group_metrics(
        y_true,
        {"x": y_pred, "y": y_pred.copy()},
        protected,
        n_boot=30,
        return_replicates=True,
    )
    np.testing.assert_array_equal(reps["x"], reps["y"])
    t1 = bootstrap_group_metrics(y_true, y_pred, protected, n_boot=30, seed=5)
    t2 = bootstrap_group_metrics(y_true, y_pred, protected, n_boot=30, seed=5)
    pd.testing.assert_frame_equal(t1, t2)
    assert set(t1.model) == {"model"}


def test_bootstrap_interval_narrows_with_more_data():
    y_small, p_small, a_small, _ = random_problem(23, n=200)
    y_big, p_big, a_big, _ = random_problem(23, n=5000)
    w = [
        (t.ci_high - t.ci_low).set_axis(t.metric)["balanced_accuracy"]
        for t in (
            bootstrap_group_metrics(y, p, a, n_boot=200)
            for y, p, a in ((y_small, p_small, a_small), (y_big, p_big, a_big))
        )
    ]
    assert w[1] < w[0] / 3


def test_bootstrap_bad_inputs():
    y_true, y_pred, protected, _ = random_problem(24, n=40)
    with pytest.raises(ValueError, match="n_boot must be a positive whole number"):
        bootstrap_group_metrics(y_true, y_pred, protected, n_boot=0)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        bootstrap_group_metrics(y_true, y_pred, protected, confidence=95)
    with pytest.raises(
        ValueError, match=r"y_pred\['short'\] has 39 entries but y_true has 40"
    ):
        bootstrap_group_metrics(y_true, {"short": y_pred[:-1]}, protected)
    with pytest.raises(ValueError, match="empty mapping"):
        bootstrap_group_metrics(y_true, {}, protected)


# ---------------------------------------------------------------------------
# COMPAS helpers


def test_chouldechova_identity_holds_on_random_confusion_matrices():
    rng = np.random.default_rng(0)
    tp, fp, fn, tn = rng.integers(1, 500, size=(4, 20)).astype(float)
    p = (tp + fn) / (tp + fp + fn + tn)
    np.testing.assert_allclose(
        chouldechova_fpr(p, tp / (tp + fp), fn / (tp + fn)), fp / (fp + tn)
    )
    assert chouldechova_fpr(0.5, 0.5, 0.0) == pytest.approx(1.0)
    series = chouldechova_fpr(pd.Series([0.5, 0.25], index=["a", "b"]), 0.5, 0.0)
    assert series.to_dict() == pytest.approx({"a": 1.0, "b": 1 / 3})
    with pytest.raises(ValueError, match="base_rate out of range"):
        chouldechova_fpr(1.0, 0.5, 0.2)
    with pytest.raises(ValueError, match="ppv out of range"):
        chouldechova_fpr(0.3, 0.0, 0.2)


def test_generalized_error_rates_satisfy_kleinberg_identity_when_calibrated():
    rng = np.random.default_rng(1)
    n = 3000
    group = rng.choice(["u", "p"], size=n)
    bins = rng.integers(1, 11, size=n)
    y = (rng.random(n) < bins / 11 * np.where(group == "u", 1.0, 0.7)).astype(int)
    frame = pd.DataFrame({"g": group, "b": bins, "y": y})
    calibrated = frame.groupby(["g", "b"])["y"].transform("mean").to_numpy()
    r = generalized_error_rates(calibrated, y, group)
    np.testing.assert_allclose(r.mean_score, r.base_rate)
    np.testing.assert_allclose((1 - r.base_rate) * r.gfpr, r.base_rate * r.gfnr)
    assert r.base_rate["u"] > r.base_rate["p"] + 0.05
    # an uncalibrated score breaks it
    r2 = generalized_error_rates(np.full(n, 0.5), y, group)
    assert not np.allclose((1 - r2.base_rate) * r2.gfpr, r2.base_rate * r2.gfnr)
    assert r2.gfpr.tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        generalized_error_rates(calibrated * 2, y, group)


# ---------------------------------------------------------------------------
# ThresholdOptimizer helpers


@pytest.fixture(scope="module")
def fitted_optimizer():
    from fairlearn.postprocessing import ThresholdOptimizer
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    n = 600
    a = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) + a[:, None] * 0.8
    y = (x[:, 0] + rng.normal(size=n) > 0.5).astype(int)
    model = LogisticRegression().fit(x, y)
    to = ThresholdOptimizer(
        estimator=model,
        constraints="demographic_parity",
        objective="balanced_accuracy_score",
        prefit=True,
        predict_method="predict_proba",
    )
    to.fit(x, y, sensitive_features=a)
    return to, model, x, a


def test_positive_probability_matches_fairlearn(fitted_optimizer):
    to, model, x, a = fitted_optimizer
    ours = positive_probability(to, model.predict_proba(x)[:, 1], a)
    np.testing.assert_allclose(ours, to._pmf_predict(x, sensitive_features=a)[:, 1])
    draws = np.mean(
        [to.predict(x, sensitive_features=a, random_state=s) for s in range(200)],
        axis=0,
    )
    assert np.abs(draws - ours).max() < 0.15
    with pytest.raises(ValueError, match=r"group value\(s\) \['7'\] were not seen"):
        positive_probability(to, model.predict_proba(x)[:, 1], np.where(a == 1, 7, a))
    with pytest.raises(ValueError, match="not a fitted fairlearn ThresholdOptimizer"):
        positive_probability(object(), [0.2], [0])


def test_threshold_optimizer_rules(fitted_optimizer):
    to, model, x, a = fitted_optimizer
    rules = threshold_optimizer_rules(to)
    assert sorted(rules.index) == [0, 1]
    np.testing.assert_allclose(rules.p0 + rules.p1, 1.0)
    s = model.predict_proba(x)[:, 1]
    prob = positive_probability(to, s, a)
    for g, r in rules.iterrows():
        m = a == g
        assert np.all(prob[m][s[m] > r.threshold_high] == pytest.approx(1.0))
        assert np.all(prob[m][s[m] <= r.threshold_low] == 0.0)
        between = (s[m] > r.threshold_low) & (s[m] <= r.threshold_high)
        np.testing.assert_allclose(prob[m][between], r.p_between)
    with pytest.raises(ValueError, match="call .fit first"):
        threshold_optimizer_rules(object())


# ---------------------------------------------------------------------------
# AIF360 glue


def test_quiet_import_warnings_silences_and_restores(capfd):
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    with quiet_import_warnings():
        logging.warning(
            "No module named 'tensorflow': AdversarialDebiasing will be unavailable"
        )
        warnings.warn("optional extra missing", UserWarning, stacklevel=1)
    assert capfd.readouterr().err == ""
    assert root.level == level and root.handlers == handlers
    with pytest.warns(UserWarning, match="still shown"):
        warnings.warn("still shown", UserWarning, stacklevel=1)


def test_aif360_groups():
    assert aif360_groups("not_blhisp") == {
        "unprivileged_groups": [{"not_blhisp": 0}],
        "privileged_groups": [{"not_blhisp": 1}],
    }
    with pytest.raises(ValueError, match="must differ"):
        aif360_groups("a", 1, 1)


def small_frame():
    return pd.DataFrame(
        {
            "x": [0.5, 1.5, -2.0, 3.0, 0.0, 1.0],
            "a": [0, 0, 1, 1, 1, 0],
            "y": [1, 0, 1, 1, 0, 0],
        }
    )


def test_converters_round_trip_with_weights():
    df = small_frame()
    w = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.5])
    ds = to_binary_label_dataset(df, "y", "a", instance_weights=w)
    assert ds.feature_names == ["x", "a"] and ds.label_names == ["y"]
    assert ds.protected_attribute_names == ["a"]
    np.testing.assert_array_equal(ds.privileged_protected_attributes[0], [1.0])
    np.testing.assert_array_equal(ds.unprivileged_protected_attributes[0], [0.0])
    back = from_binary_label_dataset(ds)
    np.testing.assert_array_equal(
        back[["x", "a", "y"]].to_numpy(), df[["x", "a", "y"]].to_numpy()
    )
    np.testing.assert_array_equal(back["instance_weights"], w)
    df["w"] = w
    ds2 = to_binary_label_dataset(df, "y", "a", features=["x"], instance_weights="w")
    assert ds2.feature_names == ["x", "a"]
    np.testing.assert_array_equal(ds2.instance_weights, w)
    assert "instance_weights" not in from_binary_label_dataset(ds2, weights_column=None)


def test_reweighing_weights_come_back_through_the_converter():
    df = small_frame()
    ds = to_binary_label_dataset(df, "y", "a")
    rw = Reweighing(**aif360_groups("a")).fit_transform(ds)
    w = from_binary_label_dataset(rw)["instance_weights"].to_numpy()
    # Kamiran and Calders: w(g, y) = P(g) P(y) / P(g, y)
    pg = df.a.map(df.a.value_counts(normalize=True))
    py = df.y.map(df.y.value_counts(normalize=True))
    pgy = df.groupby(["a", "y"]).x.transform("size") / len(df)
    np.testing.assert_allclose(w, pg * py / pgy)


@pytest.mark.parametrize(
    "change, kwargs, match",
    [
        (lambda d: d, dict(label="z"), r"column\(s\) \['z'\] are not in df"),
        (
            lambda d: d.assign(x=["a", "b", "c", "d", "e", "f"]),
            {},
            r"not numeric.*pd.get_dummies",
        ),
        (
            lambda d: d.assign(x=[np.nan, 1, 2, 3, 4, 5]),
            {},
            r"\['x'\] contain missing values",
        ),
        (lambda d: d.assign(y=[2, 0, 1, 1, 0, 0]), {}, r"holds value\(s\) \[2\]"),
        (lambda d: d.assign(a=1), {}, "single group"),
        (lambda d: d, dict(instance_weights=[1.0, 2.0]), "mismatched lengths"),
        (lambda d: d.iloc[:0], {}, "df is empty"),
    ],
)
def test_to_binary_label_dataset_bad_inputs(change, kwargs, match):
    args = dict(label="y", protected="a") | kwargs
    with pytest.raises(ValueError, match=match):
        to_binary_label_dataset(change(small_frame()), **args)


def test_to_binary_label_dataset_needs_a_dataframe():
    with pytest.raises(ValueError, match="pandas DataFrame"):
        to_binary_label_dataset(np.zeros((3, 2)), "y", "a")
    with pytest.raises(ValueError, match="AIF360 BinaryLabelDataset"):
        from_binary_label_dataset(small_frame())


# ---------------------------------------------------------------------------
# load_meps_panel19

RENAMED = [
    "FTSTU53X",
    "ACTDTY53",
    "HONRDC53",
    "RTHLTH53",
    "MNHLTH53",
    "CHBRON53",
    "JTPAIN53",
    "PREGNT53",
    "WLKLIM53",
    "ACTLIM53",
    "SOCLIM53",
    "COGLIM53",
    "EMPST53",
]
BINARY_DX = [
    "HIBPDX",
    "CHDDX",
    "ANGIDX",
    "MIDX",
    "OHRTDX",
    "STRKDX",
    "EMPHDX",
    "CHOLDX",
    "CANCERDX",
    "DIABDX",
    "ARTHDX",
    "ARTHTYPE",
    "ASTHDX",
    "ADHDADDX",
    "DFHEAR42",
    "DFSEE42",
    "ADSMOK42",
    "PHQ242",
]
VISITS = ["OBTOTV15", "OPTOTV15", "ERTOT15", "IPNGTD15", "HHTOTD15"]


def synthetic_h181(n=60, seed=0) -> pd.DataFrame:
    """A small table with the columns and codes read by AIF360's panel-19 loader."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "DUPERSID": np.arange(n) + 1000,
        "PANEL": np.where(np.arange(n) % 5 == 4, 20, 19),
        "REGION53": rng.integers(1, 5, n),
        "AGE53X": rng.integers(18, 85, n),
        "SEX": rng.integers(1, 3, n),
        "MARRY53X": rng.integers(1, 6, n),
        "RACEV2X": rng.integers(1, 4, n),
        "HISPANX": rng.integers(1, 3, n),
        "EDUCYR": rng.integers(8, 18, n),
        "HIDEG": rng.integers(1, 8, n),
        "PCS42": rng.normal(50, 10, n).round(2),
        "MCS42": rng.normal(50, 10, n).round(2),
        "K6SUM42": rng.integers(0, 24, n),
        "POVCAT15": rng.integers(1, 6, n),
        "INSCOV15": rng.integers(1, 4, n),
        "PERWT15F": rng.uniform(1000, 30000, n).round(3),
    })  # fmt: skip
    for c in RENAMED + BINARY_DX:
        df[c] = rng.integers(1, 3, n)
    for c in VISITS:
        df[c] = rng.integers(0, 6, n)
    df.loc[3, "REGION53"] = -1  # dropped: missing region
    df.loc[7, "ASTHDX"] = -8  # dropped: unknown asthma diagnosis
    return df


def expected_panel19(df: pd.DataFrame) -> pd.DataFrame:
    keep = (df.PANEL == 19) & (df.REGION53 >= 0) & (df.ASTHDX >= 0)
    out = df[keep]
    return pd.DataFrame({
        "race": ((out.HISPANX == 2) & (out.RACEV2X == 1)).to_numpy(float),
        "util": (out[VISITS].sum(axis=1) >= 10).to_numpy(float),
        "weight": out.PERWT15F.to_numpy(),
        "age": out.AGE53X.to_numpy(float),
    }, index=out.index.astype(str))  # fmt: skip


def check_panel19(ds, df):
    assert isinstance(ds, MEPSDataset19)
    exp = expected_panel19(df)
    assert list(ds.instance_names) == list(exp.index)
    np.testing.assert_array_equal(ds.protected_attributes.ravel(), exp.race)
    np.testing.assert_array_equal(ds.labels.ravel(), exp.util)
    np.testing.assert_allclose(ds.instance_weights, exp.weight)
    np.testing.assert_array_equal(
        ds.features[:, ds.feature_names.index("AGE")], exp.age
    )
    assert 0 < exp.util.sum() < len(exp) and 0 < exp.race.sum() < len(exp)


@pytest.fixture
def no_meps_anywhere(tmp_path, monkeypatch):
    """Empty stand-ins, in tmp_path, for AIF360's raw-data and the workbook's data."""
    fake_module = tmp_path / "aif360" / "datasets" / "meps_dataset_panel19_fy2015.py"
    raw = tmp_path / "aif360" / "data" / "raw" / "meps"
    raw.mkdir(parents=True)
    fake_module.parent.mkdir(parents=True)
    monkeypatch.setattr(meps19_module, "__file__", str(fake_module))
    monkeypatch.setenv("TRUSTWORTHY_DATA", str(tmp_path / "workbook_data"))
    return raw


def test_load_meps_panel19_missing_file_explains_how_to_get_it(no_meps_anywhere):
    with pytest.raises(
        FileNotFoundError,
        match=r"h181\.csv\) was not found.*fetch_meps\(19.*h181ssp\.zip",
    ) as err:
        load_meps_panel19()
    assert str(no_meps_anywhere) in str(err.value) and "README.md" in str(err.value)
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        load_meps_panel19(no_meps_anywhere / "nowhere.csv")


def test_load_meps_panel19_from_a_given_path(tmp_path, no_meps_anywhere):
    df = synthetic_h181()
    path = tmp_path / "elsewhere" / "h181.csv"
    path.parent.mkdir()
    df.to_csv(path, index=False)
    check_panel19(load_meps_panel19(path), df)


def test_load_meps_panel19_from_aif360_folder_calls_aif360(
    no_meps_anywhere, monkeypatch
):
    df = synthetic_h181(seed=1)
    df.to_csv(no_meps_anywhere / "h181.csv", index=False)
    calls = []
    original = MEPSDataset19.__init__

    def spy(self, *args, **kwargs):
        calls.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(MEPSDataset19, "__init__", spy)
    check_panel19(load_meps_panel19(), df)
    assert calls == [1]  # AIF360's own constructor found the file where it looks


# ---------------------------------------------------------------------------
# paired bootstrap difference


def test_paired_bootstrap_difference_matches_a_replicate_loop():
    from trustworthy_lib.fairness import paired_bootstrap_difference

    y_true, y_pred, protected, scores = random_problem(31, n=400)
    other = (scores > 0.6).astype(int)
    boot, reps = bootstrap_group_metrics(
        y_true,
        {"a": y_pred, "b": other},
        protected,
        n_boot=200,
        seed=4,
        return_replicates=True,
    )
    out = paired_bootstrap_difference(boot, reps, "b", "a")
    assert list(out.index) == list(METRIC_NAMES)
    idx = np.random.default_rng(4).integers(0, len(y_true), size=(200, len(y_true)))
    diffs = []
    for i in idx:  # the slow, readable version: one replicate at a time
        mb = group_metrics(y_true[i], other[i], protected[i], undefined="nan")
        ma = group_metrics(y_true[i], y_pred[i], protected[i], undefined="nan")
        diffs.append(mb["disparate_impact"] - ma["disparate_impact"])
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    row = out.loc["disparate_impact"]
    assert row["ci_low"] == pytest.approx(lo) and row["ci_high"] == pytest.approx(hi)
    full_b = group_metrics(y_true, other, protected)["disparate_impact"]
    full_a = group_metrics(y_true, y_pred, protected)["disparate_impact"]
    assert row["difference"] == pytest.approx(full_b - full_a)


def test_paired_bootstrap_difference_of_a_model_with_itself_is_exactly_zero():
    from trustworthy_lib.fairness import paired_bootstrap_difference

    y_true, y_pred, protected, scores = random_problem(32, n=300)
    boot, reps = bootstrap_group_metrics(
        y_true,
        {"a": y_pred, "copy": y_pred.copy(), "c": (scores > 0.3).astype(int)},
        protected,
        n_boot=100,
        return_replicates=True,
    )
    same = paired_bootstrap_difference(boot, reps, "copy", "a", "balanced_accuracy")
    cols = ["difference", "ci_low", "ci_high"]
    assert same.loc["balanced_accuracy", cols].abs().max() == 0
    # pairing removes shared noise: the paired interval is narrower than an unpaired one
    paired = paired_bootstrap_difference(boot, reps, "c", "a", ["balanced_accuracy"])
    unpaired = np.quantile(
        reps["c"][:, 5] - np.random.default_rng(9).permutation(reps["a"][:, 5]),
        [0.025, 0.975],
    )
    row = paired.loc["balanced_accuracy"]
    width = row["ci_high"] - row["ci_low"]
    assert width < unpaired[1] - unpaired[0]


def test_paired_bootstrap_difference_bad_inputs():
    from trustworthy_lib.fairness import paired_bootstrap_difference

    y_true, y_pred, protected, _ = random_problem(33, n=100)
    boot, reps = bootstrap_group_metrics(
        y_true, {"a": y_pred}, protected, n_boot=10, return_replicates=True
    )
    with pytest.raises(ValueError, match="no replicates for model 'b'"):
        paired_bootstrap_difference(boot, reps, "b", "a")
    with pytest.raises(ValueError, match="unknown metric"):
        paired_bootstrap_difference(boot, reps, "a", "a", "accuracy")
    with pytest.raises(ValueError, match="boot must be the DataFrame"):
        paired_bootstrap_difference(reps, reps, "a", "a")
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap_difference(boot, reps, "a", "a", confidence=95)


def test_positive_probability_normalises_group_values(fitted_optimizer):
    # fitted on integer groups 0/1; the same groups as strings must not become "no rule"
    to, model, x, a = fitted_optimizer
    scores = model.predict_proba(x)[:, 1]
    as_int = positive_probability(to, scores, a)
    as_str = positive_probability(to, scores, a.astype(str))
    np.testing.assert_allclose(as_str, as_int)
    assert as_int.max() > 0


# ---------------------------------------------------------------------------
# One engine: the named metrics are group_metrics, and group_metrics is fairlearn's

WRAPPERS = {
    "statistical_parity_difference": ("demographic_parity_difference", False),
    "disparate_impact": ("disparate_impact", False),
    "equal_opportunity_difference": ("equal_opportunity_difference", True),
    "false_positive_rate_difference": ("false_positive_rate_difference", True),
    "average_odds_difference": ("average_odds_difference", True),
    "equalized_odds_difference": ("equalized_odds_difference", True),
    "predictive_parity_difference": ("predictive_parity_difference", True),
}


@pytest.mark.parametrize("seed", [0, 1])
def test_every_named_wrapper_equals_group_metrics(seed):
    from trustworthy_lib import metrics

    y_true, y_pred, protected, _ = random_problem(
        seed, privileged="p", unprivileged="u"
    )
    engine = group_metrics(y_true, y_pred, protected, "p", metrics=fx.ALL_METRICS)
    assert set(WRAPPERS) <= set(engine)
    for key, (name, needs_labels) in WRAPPERS.items():
        fn = getattr(metrics, name)
        args = (y_true, y_pred) if needs_labels else (y_pred,)
        assert fn(*args, protected, "p") == engine[key], name
    # the undefined policy is the engine's too
    y_no_neg = np.where(protected == "u", 1, y_true)
    with pytest.raises(ValueError, match="no negative labels"):
        metrics.false_positive_rate_difference(y_no_neg, y_pred, protected, "p")
    nan = metrics.average_odds_difference(
        y_no_neg, y_pred, protected, "p", undefined="nan"
    )
    assert np.isnan(nan)


def test_group_metrics_agrees_with_fairlearn():
    import fairlearn.metrics as flm

    y_true, y_pred, protected, _ = random_problem(7, n=600)
    ours = group_metrics(y_true, y_pred, protected, metrics=fx.ALL_METRICS)
    kw = dict(sensitive_features=protected)
    assert abs(ours["statistical_parity_difference"]) == pytest.approx(
        flm.demographic_parity_difference(y_true, y_pred, **kw), abs=1e-12
    )
    assert ours["disparate_impact"] ** np.sign(
        -ours["statistical_parity_difference"]
    ) == pytest.approx(flm.demographic_parity_ratio(y_true, y_pred, **kw), abs=1e-12)
    assert ours["equalized_odds_difference"] == pytest.approx(
        flm.equalized_odds_difference(y_true, y_pred, **kw), abs=1e-12
    )
    frame = flm.MetricFrame(
        metrics={
            "tpr": flm.true_positive_rate,
            "fpr": flm.false_positive_rate,
            "sel": flm.selection_rate,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=protected,
    ).by_group
    gap = frame.loc[0] - frame.loc[1]  # unprivileged (0) minus privileged (1)
    assert ours["equal_opportunity_difference"] == pytest.approx(gap["tpr"], abs=1e-12)
    assert ours["false_positive_rate_difference"] == pytest.approx(
        gap["fpr"], abs=1e-12
    )
    assert ours["statistical_parity_difference"] == pytest.approx(gap["sel"], abs=1e-12)


def test_bootstrap_with_a_metric_undefined_on_the_full_sample():
    y_true, y_pred, protected, _ = random_problem(11, n=60)
    y_true = np.where(protected == 0, 1, y_true)  # the unprivileged group: no negatives
    with pytest.raises(ValueError, match="no negative labels"):
        bootstrap_group_metrics(y_true, y_pred, protected, n_boot=20)
    table = bootstrap_group_metrics(
        y_true, y_pred, protected, n_boot=20, undefined="nan"
    ).set_index("metric")
    aod = table.loc["average_odds_difference"]
    assert np.isnan(aod.estimate) and np.isnan(aod.ci_low) and aod.undefined == 20
    spd = table.loc["statistical_parity_difference"]
    assert not np.isnan(spd.estimate) and spd.undefined == 0
    assert spd.ci_low <= spd.estimate <= spd.ci_high
