import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from trustworthy_lib import metrics as m


@pytest.fixture
def random_labels():
    rng = np.random.default_rng(3)
    n = 400
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.75, y_true, 1 - y_true)
    group = rng.choice(["a", "b"], n, p=[0.35, 0.65])
    return y_true, y_pred, group


# --- the confusion matrix ----------------------------------------------------


def test_lesson_confusion_matrix_by_hand():
    cm = m.ConfusionCounts(tp=300, fp=80, fn=25, tn=595)
    assert cm.n == 1000
    assert cm.accuracy == pytest.approx(0.895)
    assert cm.precision == pytest.approx(300 / 380)
    assert cm.recall == pytest.approx(300 / 325)
    assert cm.specificity == pytest.approx(595 / 675)
    assert cm.false_positive_rate == pytest.approx(80 / 675)
    assert cm.f1 == pytest.approx(
        2 * cm.precision * cm.recall / (cm.precision + cm.recall)
    )
    assert cm.prevalence == pytest.approx(0.325)
    assert cm.selection_rate == pytest.approx(0.38)
    assert set(cm.rates()) >= {"accuracy", "precision", "recall", "f1", "specificity"}
    assert cm.as_dict() == {"tp": 300, "fp": 80, "fn": 25, "tn": 595}


def test_confusion_counts_agree_with_sklearn(random_labels):
    y_true, y_pred, _ = random_labels
    cm = m.confusion_counts(y_true, y_pred)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    assert (cm.tp, cm.fp, cm.fn, cm.tn) == (tp, fp, fn, tn)
    assert cm.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert cm.precision == pytest.approx(skm.precision_score(y_true, y_pred))
    assert cm.recall == pytest.approx(skm.recall_score(y_true, y_pred))
    assert cm.f1 == pytest.approx(skm.f1_score(y_true, y_pred))
    assert cm.specificity == pytest.approx(
        skm.recall_score(y_true, y_pred, pos_label=0)
    )
    assert cm.balanced_accuracy == pytest.approx(
        skm.balanced_accuracy_score(y_true, y_pred)
    )
    assert m.ConfusionCounts.from_labels(y_true, y_pred) == cm


def test_confusion_counts_accept_booleans_and_series():
    cm = m.confusion_counts(pd.Series([True, False, True]), [1.0, 1.0, 0.0])
    assert cm.as_dict() == {"tp": 1, "fp": 1, "fn": 1, "tn": 0}


def test_undefined_rate_is_nan():
    cm = m.ConfusionCounts(tp=0, fp=0, fn=5, tn=95)  # nothing predicted positive
    assert math.isnan(cm.precision)
    assert cm.recall == 0.0 and cm.accuracy == 0.95


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tp": -1, "fp": 0, "fn": 0, "tn": 1}, "cannot be negative"),
        ({"tp": 1.5, "fp": 0, "fn": 0, "tn": 1}, "whole number"),
        ({"tp": True, "fp": 0, "fn": 0, "tn": 1}, "whole number"),
        ({"tp": 0, "fp": 0, "fn": 0, "tn": 0}, "at least one sample"),
    ],
)
def test_confusion_counts_reject_bad_counts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        m.ConfusionCounts(**kwargs)


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        ([0, 1, 2], [0, 1, 1], "only 0 .* and 1"),
        ([0, 1, np.nan], [0, 1, 1], "NaN"),
        ([], [], "empty"),
        ([[0, 1]], [[0, 1]], "one-dimensional"),
        ([0, 1, 1], [0, 1], "one entry per sample"),
        (["yes", "no"], [1, 0], "must hold numbers"),
    ],
)
def test_confusion_counts_reject_bad_labels(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        m.confusion_counts(y_true, y_pred)


# --- group fairness ------------------------------------------------------------


def test_toy_group_fairness_by_hand():
    # privileged "p": 4 people, base rate 1/2; unprivileged "u": 6 people, base rate 1/3
    group = np.array(["p"] * 4 + ["u"] * 6)
    y_true = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0, 0])
    y_pred = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 1])
    # p: TP=1 FN=1 FP=1 TN=1 -> SR 0.5, TPR 0.5, FPR 0.5, PPV 0.5
    # u: TP=1 FN=1 FP=1 TN=3 -> SR 1/3, TPR 0.5, FPR 0.25, PPV 0.5
    assert m.demographic_parity_difference(y_pred, group, "p") == pytest.approx(
        1 / 3 - 1 / 2
    )
    assert m.disparate_impact(y_pred, group, "p") == pytest.approx((1 / 3) / (1 / 2))
    assert m.equal_opportunity_difference(y_true, y_pred, group, "p") == pytest.approx(
        0.0
    )
    assert m.false_positive_rate_difference(
        y_true, y_pred, group, "p"
    ) == pytest.approx(-0.25)
    assert m.average_odds_difference(y_true, y_pred, group, "p") == pytest.approx(
        -0.125
    )
    assert m.equalized_odds_difference(y_true, y_pred, group, "p") == pytest.approx(
        0.25
    )
    assert m.predictive_parity_difference(y_true, y_pred, group, "p") == pytest.approx(
        0.0
    )
    cms = m.group_confusion(y_true, y_pred, group, "p")
    assert cms["unprivileged"].as_dict() == {"tp": 1, "fp": 1, "fn": 1, "tn": 3}
    rates = m.group_rates(y_true, y_pred, group)
    assert rates.loc["u", "base_rate"] == pytest.approx(1 / 3)
    assert rates.loc["p", "precision"] == pytest.approx(0.5)
    assert rates["n"].tolist() == [4, 6]


def test_sign_convention_flips_with_privileged_choice(random_labels):
    y_true, y_pred, group = random_labels
    a = m.demographic_parity_difference(y_pred, group, "a")
    b = m.demographic_parity_difference(y_pred, group, "b")
    assert a == pytest.approx(-b) and a != 0
    assert m.disparate_impact(y_pred, group, "a") == pytest.approx(
        1 / m.disparate_impact(y_pred, group, "b")
    )


def test_group_fairness_agrees_with_fairlearn(random_labels):
    from fairlearn import metrics as flm

    y_true, y_pred, group = random_labels
    dpd = m.demographic_parity_difference(y_pred, group, "a")
    assert abs(dpd) == pytest.approx(
        flm.demographic_parity_difference(y_true, y_pred, sensitive_features=group)
    )
    assert m.equalized_odds_difference(y_true, y_pred, group, "a") == pytest.approx(
        flm.equalized_odds_difference(y_true, y_pred, sensitive_features=group)
    )
    mf = flm.MetricFrame(
        metrics={
            "tpr": flm.true_positive_rate,
            "fpr": flm.false_positive_rate,
            "sel": flm.selection_rate,
            "ppv": skm.precision_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=group,
    ).by_group
    rates = m.group_rates(y_true, y_pred, group)
    np.testing.assert_allclose(rates["true_positive_rate"], mf["tpr"])
    np.testing.assert_allclose(rates["false_positive_rate"], mf["fpr"])
    np.testing.assert_allclose(rates["selection_rate"], mf["sel"])
    np.testing.assert_allclose(rates["precision"], mf["ppv"])
    assert m.equal_opportunity_difference(y_true, y_pred, group, "a") == pytest.approx(
        mf.loc["b", "tpr"] - mf.loc["a", "tpr"]
    )
    assert m.predictive_parity_difference(y_true, y_pred, group, "a") == pytest.approx(
        mf.loc["b", "ppv"] - mf.loc["a", "ppv"]
    )


def test_signed_differences_agree_with_aif360(random_labels):
    """AIF360 uses the same convention (unprivileged minus privileged)."""
    from aif360.sklearn import metrics as am

    y_true, y_pred, group = random_labels
    idx = pd.Index(group, name="grp")
    yt = pd.Series(y_true, index=idx)
    kw = {"prot_attr": "grp", "priv_group": "a", "pos_label": 1}
    assert m.demographic_parity_difference(y_pred, group, "a") == pytest.approx(
        am.statistical_parity_difference(yt, y_pred, **kw)
    )
    assert m.disparate_impact(y_pred, group, "a") == pytest.approx(
        am.disparate_impact_ratio(yt, y_pred, **kw)
    )
    assert m.equal_opportunity_difference(y_true, y_pred, group, "a") == pytest.approx(
        am.equal_opportunity_difference(yt, y_pred, **kw)
    )
    assert m.average_odds_difference(y_true, y_pred, group, "a") == pytest.approx(
        am.average_odds_difference(yt, y_pred, **kw)
    )


def test_group_errors():
    y = [0, 1, 1, 0]
    with pytest.raises(ValueError, match="privileged value 'z' does not occur"):
        m.demographic_parity_difference(y, ["a", "a", "b", "b"], "z")
    with pytest.raises(ValueError, match="single group"):
        m.disparate_impact(y, ["a"] * 4, "a")
    with pytest.raises(ValueError, match="mismatched lengths"):
        m.equal_opportunity_difference(y, y, ["a", "b"], "a")
    with pytest.raises(ValueError, match="missing group label"):
        m.predictive_parity_difference(y, y, [0.0, 1.0, np.nan, 1.0], 1.0)
    with pytest.raises(ValueError, match="missing group label"):
        m.group_rates(y, y, [0.0, 1.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="mismatched lengths"):
        m.group_rates(y, y, [0, 1, 1])


def test_rate_is_undefined_when_a_group_has_no_positives():
    # the unprivileged group has no true positives: its TPR is undefined
    args = ([1, 0, 0, 0], [1, 0, 1, 0], ["p", "p", "u", "u"], "p")
    with pytest.raises(ValueError, match="unprivileged group has no positive labels"):
        m.equal_opportunity_difference(*args)
    assert math.isnan(m.equal_opportunity_difference(*args, undefined="nan"))


# ---------------------------------------------------------------------------
# Silent wrong answers (issue 12): each of these returned a number before the fix


def test_equalized_odds_difference_does_not_hide_an_undefined_fpr():
    # group "u" has no actual negatives: its FPR is 0/0, so equalised odds is undefined
    y_true = [1, 1, 1, 1, 0, 1, 0, 1]
    y_pred = [1, 0, 1, 1, 0, 1, 1, 0]
    group = ["u", "u", "u", "u", "p", "p", "p", "p"]
    with pytest.raises(ValueError, match="no negative labels"):
        m.equalized_odds_difference(y_true, y_pred, group, "p")
    value = m.equalized_odds_difference(y_true, y_pred, group, "p", undefined="nan")
    assert math.isnan(value)


@pytest.mark.parametrize("missing", [None, np.nan])
def test_missing_group_labels_are_refused(missing):
    y_true = [1, 0, 1, 0, 1, 0]
    y_pred = [1, 0, 0, 0, 1, 1]
    group = ["a", "a", missing, "b", "b", "b"]
    with pytest.raises(ValueError, match="missing"):
        m.demographic_parity_difference(y_pred, group, "a")
    with pytest.raises(ValueError, match="missing"):
        m.group_rates(y_true, y_pred, group)
