"""Tests for trustworthy_lib.calibration: agreement with torchmetrics and sklearn, known
values, bad input.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss, log_loss
from torchmetrics.classification import MulticlassCalibrationError

from trustworthy_lib.calibration import (
    TemperatureScaler,
    brier_score,
    calibration_bins,
    check_probabilities,
    expected_calibration_error,
    negative_log_likelihood,
    probabilistic_scores,
    reliability_diagram,
)


def random_probs(n=500, c=4, seed=0, scale=3.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((n, c))
    p = torch.softmax(torch.as_tensor(logits), dim=1).numpy().astype(dtype)
    y = rng.integers(0, c, n)
    return p, y


def torchmetrics_ece(p, y, n_bins=15):
    metric = MulticlassCalibrationError(
        num_classes=p.shape[1], n_bins=n_bins, norm="l1"
    )
    return float(metric(torch.as_tensor(p), torch.as_tensor(y)))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_bins", [15, 10, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ece_agrees_with_torchmetrics(seed, n_bins, dtype):
    p, y = random_probs(seed=seed, dtype=dtype)
    assert expected_calibration_error(p, y, n_bins) == pytest.approx(
        torchmetrics_ece(p, y, n_bins), abs=1e-6
    )


def test_ece_agrees_with_torchmetrics_on_bin_edges_and_certainty():
    # confidences exactly on bin edges (0.4, 0.6) and exactly 1.0 must bin the same way
    p = np.array(
        [
            [0.4, 0.3, 0.3],
            [0.6, 0.2, 0.2],
            [1.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.2, 0.2, 0.6],
        ],
        dtype=np.float32,
    )
    y = np.array([0, 1, 0, 1, 1, 2])
    assert expected_calibration_error(p, y) == pytest.approx(
        torchmetrics_ece(p, y), abs=1e-6
    )


def test_ece_known_values():
    # all confident and all wrong: ECE = 1; all confident and right: ECE = 0
    p = np.tile([[1.0, 0.0]], (10, 1))
    assert expected_calibration_error(p, np.ones(10, int)) == pytest.approx(1.0)
    assert expected_calibration_error(p, np.zeros(10, int)) == pytest.approx(0.0)
    # confidence 0.8 everywhere, 80 % right: perfectly calibrated
    p = np.tile([[0.8, 0.2]], (10, 1))
    y = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(p, y) == pytest.approx(0.0, abs=1e-12)
    # confidence 0.9, 60 % right: ECE = 0.3
    y = np.array([0] * 6 + [1] * 4)
    p = np.tile([[0.9, 0.1]], (10, 1))
    assert expected_calibration_error(p, y) == pytest.approx(0.3)


def test_calibration_bins_counts_and_means():
    p = np.array([[0.55, 0.45], [0.58, 0.42], [0.95, 0.05], [1.0, 0.0]])
    y = np.array([0, 1, 0, 0])
    b = calibration_bins(p, y, n_bins=10)
    assert b.n == 4 and len(b.count) == 11 and len(b.edges) == 11
    assert (
        b.count[5] == 2
        and b.confidence[5] == pytest.approx(0.565)
        and b.accuracy[5] == pytest.approx(0.5)
    )
    assert (
        b.count[9] == 1 and b.count[10] == 1
    )  # 0.95 in the last bin, exactly 1.0 on its own


def test_accepts_torch_tensors():
    p, y = random_probs()
    assert expected_calibration_error(
        torch.as_tensor(p), torch.as_tensor(y)
    ) == pytest.approx(expected_calibration_error(p, y))


def test_reliability_diagram_draws_per_bin_accuracy():
    import matplotlib.pyplot as plt

    p, y = random_probs(n=2000)
    ax = reliability_diagram(p, y, n_bins=15)
    bins = calibration_bins(p, y, 15)
    filled = bins.count[:15] > 0
    bars = ax.containers[0]
    assert len(bars) == int(filled.sum())
    heights = np.array([r.get_height() for r in bars])
    # no confidence is exactly 1 here, so bars equal the per-bin accuracy
    assert np.allclose(heights, bins.accuracy[:15][filled])
    assert any("ECE" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close("all")


def test_nll_and_brier_agree_with_sklearn():
    p, y = random_probs(n=300, c=5, dtype=np.float64)
    assert negative_log_likelihood(p, y) == pytest.approx(
        log_loss(y, p, labels=range(5)), rel=1e-9
    )
    assert brier_score(p, y) == pytest.approx(
        brier_score_loss(y, p, labels=range(5), scale_by_half=False), rel=1e-9
    )


def test_nll_brier_known_values():
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    y = np.array([0, 0])
    assert negative_log_likelihood(p, y) == pytest.approx(np.log(2) / 2)
    assert brier_score(p, y) == pytest.approx((0.5 + 0.0) / 2)
    assert negative_log_likelihood([[0.0, 1.0]], [0], eps=1e-12) == pytest.approx(
        -np.log(1e-12)
    )


def test_probabilistic_scores_collects_the_four_metrics():
    p, y = random_probs(n=200, c=3, seed=4)
    scores = probabilistic_scores(p, y)
    assert scores == {
        "accuracy": pytest.approx(np.mean(p.argmax(1) == y)),
        "nll": pytest.approx(negative_log_likelihood(p, y)),
        "brier": pytest.approx(brier_score(p, y)),
        "ece": pytest.approx(expected_calibration_error(p, y)),
    }
    with pytest.raises(ValueError, match="softmax"):
        probabilistic_scores(np.log(p), y)


def synthetic_logits(t_true, n=20000, c=5, seed=0):
    """Labels drawn from softmax(z / t_true): the NLL-optimal temperature is t_true."""
    rng = np.random.default_rng(seed)
    z = 3.0 * rng.standard_normal((n, c))
    p = torch.softmax(torch.as_tensor(z / t_true), dim=1).numpy()
    y = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return z, y


@pytest.mark.parametrize("t_true", [0.7, 2.5])
def test_temperature_scaler_recovers_known_temperature(t_true):
    z, y = synthetic_logits(t_true)
    ts = TemperatureScaler().fit(z, y)
    assert ts.temperature_ == pytest.approx(t_true, rel=0.05)
    # accuracy unchanged, NLL not worse
    assert np.array_equal(ts.transform(z).argmax(1), z.argmax(1))
    p0 = torch.softmax(torch.as_tensor(z), 1).numpy()
    assert negative_log_likelihood(ts.predict_proba(z), y) <= negative_log_likelihood(
        p0, y
    )


def test_temperature_scaler_lowers_ece_of_overconfident_model():
    z, y = synthetic_logits(2.5, seed=1)
    zv, yv, zt, yt = z[:10000], y[:10000], z[10000:], y[10000:]
    ts = TemperatureScaler().fit(zv, yv)
    before = expected_calibration_error(
        torch.softmax(torch.as_tensor(zt), 1).numpy(), yt
    )
    after = expected_calibration_error(ts.predict_proba(zt), yt)
    assert after < before / 3


def test_temperature_scaler_keeps_tensor_type():
    z, y = synthetic_logits(1.5, n=500)
    ts = TemperatureScaler().fit(torch.as_tensor(z), torch.as_tensor(y))
    out = ts.transform(torch.as_tensor(z))
    assert isinstance(out, torch.Tensor)
    assert torch.allclose(out, torch.as_tensor(z) / ts.temperature_)


# --- bad input ------------------------------------------------------------------------


def test_logits_instead_of_probabilities_suggest_softmax():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="softmax"):
        expected_calibration_error(rng.standard_normal((10, 3)), np.zeros(10, int))


def test_rows_not_summing_to_one_rejected():
    with pytest.raises(ValueError, match="not probability vectors"):
        brier_score(np.array([[0.5, 0.2]]), [0])


def test_mismatched_lengths_rejected():
    p, y = random_probs(n=10)
    with pytest.raises(ValueError, match="10 rows but labels has 9"):
        expected_calibration_error(p, y[:9])


def test_label_out_of_range_rejected():
    p, _ = random_probs(n=5, c=3)
    with pytest.raises(ValueError, match="class index 3"):
        negative_log_likelihood(p, [0, 1, 2, 3, 0])


def test_float_labels_rejected():
    p, _ = random_probs(n=2, c=3)
    with pytest.raises(ValueError, match="integer class indices"):
        expected_calibration_error(p, [0.5, 1.0])


def test_bad_shapes_and_values_rejected():
    with pytest.raises(ValueError, match="2-D"):
        check_probabilities(np.array([0.2, 0.8]))
    with pytest.raises(ValueError, match="empty"):
        check_probabilities(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        check_probabilities(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        check_probabilities(np.ones((3, 1)))
    with pytest.raises(ValueError, match="one-dimensional"):
        check_probabilities(np.array([[0.5, 0.5]]), labels=np.array([[0, 1]]))
    p, y = random_probs(n=5)
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(p, y, n_bins=0)


def test_temperature_scaler_bad_input():
    ts = TemperatureScaler()
    with pytest.raises(RuntimeError, match="not fitted"):
        ts.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="look like probabilities"):
        ts.fit(np.array([[0.3, 0.7], [0.9, 0.1]]), [0, 1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        ts.fit(np.array([[np.nan, 1.0], [0.0, 1.0]]), [0, 1])
    with pytest.raises(ValueError, match="2 rows but labels has 3"):
        ts.fit(np.array([[2.0, -1.0], [0.0, 1.0]]), [0, 1, 1])
    with pytest.raises(ValueError, match="max_iter"):
        TemperatureScaler(max_iter=0)


def test_bootstrap_interval_paired_difference():
    from trustworthy_lib.calibration import bootstrap_interval

    rng = np.random.default_rng(0)
    a = rng.normal(size=400)
    # b = a + 1 exactly: a paired bootstrap of mean(b - a) has zero width at 1
    est, lo, hi = bootstrap_interval(lambda x, y: np.mean(y - x), a, a + 1.0, n_boot=50)
    assert (
        est == pytest.approx(1.0)
        and lo == pytest.approx(1.0)
        and hi == pytest.approx(1.0)
    )
    # the interval of a mean has about the width of +-1.96 standard errors
    est, lo, hi = bootstrap_interval(np.mean, a, n_boot=2000, seed=1)
    se = a.std() / np.sqrt(len(a))
    assert lo < est < hi
    assert (hi - lo) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.15)


def test_bootstrap_interval_groups_keep_their_sizes():
    from trustworthy_lib.calibration import bootstrap_interval

    groups = np.r_[np.zeros(30), np.ones(70)]
    sizes = []
    bootstrap_interval(
        lambda g: sizes.append(g.sum()) or 0.0, groups, n_boot=20, groups=groups
    )
    assert set(sizes[:-1]) == {70.0}
    with pytest.raises(ValueError, match="same number of rows"):
        bootstrap_interval(np.mean, np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval(np.mean, np.ones(3), confidence=95)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_interval(np.mean, np.ones(3), n_boot=0)


def test_bootstrap_interval_of_a_constant_is_degenerate():
    from trustworthy_lib.calibration import bootstrap_interval

    x = np.full(25, 3.5)
    assert bootstrap_interval(np.mean, x, n_boot=100) == (3.5, 3.5, 3.5)
    batched = bootstrap_interval(lambda v: v.mean(axis=-1), x, n_boot=100, batched=True)
    assert batched == (3.5, 3.5, 3.5)


def test_bootstrap_interval_batched_equals_the_loop():
    from trustworthy_lib.calibration import bootstrap_interval

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=50), rng.normal(size=50)
    groups = np.r_[np.zeros(20), np.ones(30)]
    for g in (None, groups):
        loop = bootstrap_interval(
            lambda a, b: np.mean(a - b), x, y, n_boot=300, seed=2, groups=g
        )
        batch = bootstrap_interval(
            lambda a, b: np.mean(a - b, axis=-1),
            x,
            y,
            n_boot=300,
            seed=2,
            groups=g,
            batched=True,
        )
        assert batch == pytest.approx(loop, rel=1e-12)
    # replicate b uses the rows of the shared index matrix
    from trustworthy_lib._bootstrap import percentile_interval, resample_indices

    idx = resample_indices(50, 300, 2)
    low, high, _ = percentile_interval(x[idx].mean(axis=1), 0.9)
    assert bootstrap_interval(np.mean, x, n_boot=300, seed=2, confidence=0.9)[
        1:
    ] == pytest.approx((low, high))
    with pytest.raises(ValueError, match="one value per replicate"):
        bootstrap_interval(lambda a: a, x, n_boot=10, batched=True)


def test_bootstrap_interval_leaves_out_undefined_resamples():
    from trustworthy_lib.calibration import bootstrap_interval

    # the statistic is undefined when a resample draws no positive
    y = np.r_[1.0, np.zeros(4)]
    values = np.arange(5.0)

    def mean_of_positives(v, label):
        return v[label == 1].mean() if (label == 1).any() else np.nan

    with pytest.warns(RuntimeWarning, match=r"undefined \(NaN\) on \d+ of 200"):
        est, lo, hi = bootstrap_interval(mean_of_positives, values, y, n_boot=200)
    assert (est, lo, hi) == (0.0, 0.0, 0.0)


def test_interval_word():
    from trustworthy_lib.calibration import interval_word

    assert interval_word(0.01, 0.03) == "better"
    assert interval_word(-0.03, -0.01) == "worse"
    assert interval_word(-0.01, 0.03) == "the same within noise"
    assert interval_word(0.01, 0.03, higher_is_better=False) == "worse"
    assert (
        interval_word(-0.03, -0.01, higher_is_better=False, better="lower") == "lower"
    )
    with pytest.raises(ValueError, match="low must not exceed high"):
        interval_word(1.0, 0.0)


def test_reliability_diagram_draws_confidence_one_in_the_last_bar():
    import matplotlib.pyplot as plt

    # 4 rows with confidence exactly 1 (3 right, 1 wrong) and 4 rows at 0.95 (2 right)
    probs = np.array([[1.0, 0.0]] * 4 + [[0.95, 0.05]] * 4)
    labels = np.array([0, 0, 0, 1] + [0, 0, 1, 1])
    bins = calibration_bins(probs, labels, n_bins=10)
    assert (
        bins.count[10] == 4 and bins.count[9] == 4
    )  # the extra bin holds confidence 1
    ax = reliability_diagram(probs, labels, n_bins=10)
    bars = ax.containers[0]
    assert len(bars) == 1  # one bar: [0.9, 1.0] with the confidence-1 rows folded in
    assert bars[0].get_x() == pytest.approx(0.9)
    assert bars[0].get_height() == pytest.approx(5 / 8)  # (3 + 2) right out of 8
    gap = ax.containers[1][0]
    assert gap.get_y() + gap.get_height() == pytest.approx((4 * 1.0 + 4 * 0.95) / 8)
    plt.close("all")
