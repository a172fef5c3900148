"""Tests for trustworthy_lib.ood_benchmark: shared OOD sets, set-up and intervals."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from trustworthy_lib.data import load_fashion_mnist
from trustworthy_lib.models import SmallCNN, predict_logits
from trustworthy_lib.ood_benchmark import (
    FAR_OOD_CLASSES,
    ID_CLASSES,
    NEAR_OOD_CLASSES,
    OOD_SET_NAMES,
    _resample_counts,
    _weighted_auroc,
    auroc_difference,
    bootstrap_auroc,
    cnn_features_and_logits,
    load_ood_benchmark,
    pixel_logistic_regression,
    pixel_logits,
)


@pytest.fixture(scope="module")
def bench():
    return load_ood_benchmark()


def test_sets_partition_the_classes_and_near_is_clothes():
    assert sorted(ID_CLASSES + NEAR_OOD_CLASSES + FAR_OOD_CLASSES) == list(range(10))
    # near OOD: pullover, dress, coat, shirt; far: sandal, sneaker, bag, ankle boot
    assert set(NEAR_OOD_CLASSES) == {2, 3, 4, 6}
    assert set(FAR_OOD_CLASSES) == {5, 7, 8, 9}
    assert set(OOD_SET_NAMES) == {"near", "far"}


def test_benchmark_holds_the_right_test_images(bench):
    assert set(np.unique(bench.y_train)) == set(ID_CLASSES)
    assert set(np.unique(bench.y_test)) == set(ID_CLASSES)
    assert set(np.unique(bench.y_near)) == set(NEAR_OOD_CLASSES)
    assert set(np.unique(bench.y_far)) == set(FAR_OOD_CLASSES)
    ref = load_fashion_mnist(ID_CLASSES, NEAR_OOD_CLASSES)
    np.testing.assert_array_equal(bench.x_near, ref.x_ood)
    assert list(bench.test_images()) == ["ID", "near", "far"]
    assert bench.x_near.shape[1:] == (28, 28) and bench.x_near.dtype == np.float32


def test_pixel_baseline_matches_predict_proba(bench):
    clf = pixel_logistic_regression(bench, max_iter=200)
    x = bench.x_near[:50]
    logits = pixel_logits(clf, x)
    probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
    np.testing.assert_allclose(probs, clf.predict_proba(x.reshape(50, -1)), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        pixel_logits(clf, np.zeros(3))


def test_cnn_features_and_logits_equal_a_forward_pass():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    x = np.random.default_rng(0).random((7, 28, 28), dtype=np.float32)
    feats, logits = cnn_features_and_logits(model, {"a": x})
    assert feats["a"].shape == (7, 128)
    np.testing.assert_allclose(
        logits["a"], predict_logits(model, x), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(TypeError, match="head"):
        cnn_features_and_logits(torch.nn.Linear(2, 2), {"a": x})


def test_weighted_auroc_equals_sklearn_with_ties_and_weights():
    rng = np.random.default_rng(1)
    id_s = rng.integers(0, 6, 80).astype(float)  # many ties
    ood_s = rng.integers(2, 9, 60).astype(float)
    ones = _weighted_auroc(id_s, ood_s, np.ones((1, 80)), np.ones((1, 60)))[0]
    y = np.r_[np.zeros(80), np.ones(60)]
    assert ones == pytest.approx(roc_auc_score(y, np.r_[id_s, ood_s]))
    w_id, w_ood = rng.integers(0, 3, (1, 80)), rng.integers(0, 3, (1, 60))
    weighted = _weighted_auroc(id_s, ood_s, w_id, w_ood)[0]
    expected = roc_auc_score(
        y, np.r_[id_s, ood_s], sample_weight=np.r_[w_id[0], w_ood[0]]
    )
    assert weighted == pytest.approx(expected)


def test_resample_counts_are_bootstrap_draws():
    counts = _resample_counts(np.random.default_rng(0), 50, 200)
    assert counts.shape == (200, 50)
    assert (counts.sum(1) == 50).all()
    assert counts.mean() == pytest.approx(1.0)


def test_bootstrap_interval_covers_the_auroc_and_shrinks_with_more_data():
    rng = np.random.default_rng(2)
    small = bootstrap_auroc(rng.normal(size=100), rng.normal(1, 1, 100), seed=0)
    big = bootstrap_auroc(rng.normal(size=4000), rng.normal(1, 1, 4000), seed=0)
    assert small["low"] < small["auroc"] < small["high"]
    assert big["high"] - big["low"] < (small["high"] - small["low"]) / 3
    # the width agrees with Hanley and McNeil's (1982) standard error of the AUROC
    a, n = big["auroc"], 4000
    q1, q2 = a / (2 - a), 2 * a**2 / (1 + a)
    se = np.sqrt((a * (1 - a) + (n - 1) * (q1 - a**2) + (n - 1) * (q2 - a**2)) / n**2)
    assert (big["high"] - big["low"]) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.15)


def test_auroc_difference_verdicts():
    rng = np.random.default_rng(4)
    id_s, ood_s = rng.normal(size=500), rng.normal(1, 1, 500)
    same = auroc_difference((id_s, ood_s), (2 * id_s + 1, 2 * ood_s + 1))
    assert same["difference"] == pytest.approx(0.0)
    assert same["verdict"] == "the same within noise"
    noisy = (id_s + rng.normal(0, 2, 500), ood_s + rng.normal(0, 2, 500))
    better = auroc_difference((id_s, ood_s), noisy)
    assert better["verdict"] == "higher" and better["low"] > 0
    assert auroc_difference(noisy, (id_s, ood_s))["verdict"] == "lower"
    with pytest.raises(ValueError, match="same images"):
        auroc_difference((id_s, ood_s), (id_s[:10], ood_s))
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_auroc(id_s, ood_s, n_boot=2)
