"""Tests for trustworthy_lib.ood and trustworthy_lib.ood_evaluation.

Cross-checked against pytorch-ood 0.4.0 and scikit-learn.
"""

import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from pytorch_ood.detector import KNN as PytorchOODKNN
from pytorch_ood.detector import EnergyBased, MaxLogit, MaxSoftmax
from pytorch_ood.detector import Mahalanobis as PytorchOODMahalanobis
from sklearn.covariance import LedoitWolf, ledoit_wolf
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from trustworthy_lib.ood import (
    KNN,
    Mahalanobis,
    binary_logits,
    energy_score,
    max_logit_score,
    msp_score,
)
from trustworthy_lib.ood_evaluation import (
    OOD_LABEL,
    detector_table,
    fpr_at_tpr,
    ood_confusion_matrix,
    ood_metrics,
    ood_threshold_sweep,
    threshold_at_tpr,
)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def logits(rng):
    return rng.normal(scale=3.0, size=(200, 4))


@pytest.fixture
def float64_torch_default():
    """pytorch-ood's Mahalanobis uses the default dtype; make it float64."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def blobs(rng, n=600, dim=12, classes=3, spread=1.0):
    """Correlated Gaussian features around ``classes`` centres, with their labels."""
    mix = np.eye(dim) + 0.4 * rng.normal(size=(dim, dim)) / np.sqrt(
        dim
    )  # correlated, well conditioned
    labels = rng.integers(0, classes, n)
    centres = rng.normal(scale=3.0, size=(classes, dim))
    return rng.normal(scale=spread, size=(n, dim)) @ mix + centres[labels], labels


# ---------------------------------------------------------------------------
# logit scores


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_logit_scores_match_pytorch_ood(logits, temperature):
    t = torch.tensor(logits)
    np.testing.assert_allclose(
        msp_score(logits, temperature),
        MaxSoftmax.score(t, temperature).numpy(),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        energy_score(logits, temperature),
        EnergyBased.score(t, temperature).numpy(),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        max_logit_score(logits), MaxLogit.score(t).numpy(), rtol=1e-12
    )


def test_logit_scores_known_values_and_types():
    x = np.array([[0.0, 0.0], [1000.0, 1000.0], [2.0, -1.0]])
    np.testing.assert_allclose(msp_score(x), [-0.5, -0.5, -1 / (1 + np.exp(-3.0))])
    # logsumexp does not overflow on large logits
    np.testing.assert_allclose(
        energy_score(x),
        [-np.log(2), -(1000 + np.log(2)), -np.log(np.exp(2) + np.exp(-1))],
    )
    np.testing.assert_allclose(energy_score(x, temperature=2.0)[0], -2 * np.log(2))
    np.testing.assert_allclose(max_logit_score(x), [0.0, -1000.0, -2.0])
    # numpy in -> numpy out, tensor in -> tensor out (same device), lists accepted
    assert isinstance(msp_score(x), np.ndarray) and msp_score(x).shape == (3,)
    t = torch.tensor(x, dtype=torch.float32)
    for fn in (msp_score, energy_score, max_logit_score):
        out = fn(t)
        assert (
            isinstance(out, torch.Tensor)
            and out.shape == (3,)
            and out.device == t.device
        )
    np.testing.assert_allclose(max_logit_score([[1, 2], [3, 0]]), [-2.0, -3.0])


def test_larger_scores_for_less_confident_logits():
    confident, unsure = [[8.0, 0.0]], [[0.5, 0.0]]
    for fn in (msp_score, energy_score, max_logit_score):
        assert fn(unsure)[0] > fn(confident)[0]


def test_binary_logits_reproduce_logistic_regression(rng):
    from sklearn.linear_model import LogisticRegression

    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    clf = LogisticRegression().fit(x, y)
    logits = binary_logits(clf.decision_function(x))
    assert logits.shape == (200, 2)
    probs = torch.softmax(torch.tensor(logits), dim=1).numpy()
    np.testing.assert_allclose(probs, clf.predict_proba(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        -msp_score(logits), clf.predict_proba(x).max(1), rtol=1e-10
    )
    # finite even where predict_proba rounds to exactly 0 or 1
    assert np.isfinite(msp_score(binary_logits([800.0, -800.0]))).all()
    with pytest.raises(ValueError, match="decision must be one-dimensional"):
        binary_logits(np.zeros((3, 2)))


@pytest.mark.parametrize("fn", [msp_score, energy_score, max_logit_score])
def test_logit_scores_reject_bad_input(fn):
    with pytest.raises(ValueError, match=r"shape \(N, C\).*1-D"):
        fn(np.array([0.1, 2.0, 0.3]))
    with pytest.raises(ValueError, match="empty"):
        fn(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        fn(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        fn(np.ones((4, 1)))
    with pytest.raises(ValueError, match="numeric"):
        fn(np.array([["a", "b"]]))


def test_temperature_must_be_positive(logits):
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature must be a positive"):
            energy_score(logits, temperature=bad)
        with pytest.raises(ValueError, match="temperature must be a positive"):
            msp_score(logits, temperature=bad)


# ---------------------------------------------------------------------------
# Mahalanobis


def lesson_mahalanobis(train, test):
    """The lesson's single-Gaussian loop with sklearn's Ledoit-Wolf covariance."""
    mean = train.mean(0)
    inv = np.linalg.inv(LedoitWolf().fit(train).covariance_)
    return np.array([np.sqrt((x - mean) @ inv @ (x - mean)) for x in test])


def test_mahalanobis_matches_pytorch_ood(rng, float64_torch_default):
    train, labels = blobs(rng)
    test = rng.normal(scale=3.0, size=(150, train.shape[1]))
    ours = (
        Mahalanobis(class_conditional=True, covariance="empirical")
        .fit(train, labels)
        .score(test)
    )
    theirs = (
        PytorchOODMahalanobis(None)
        .fit_features(torch.tensor(train), torch.tensor(labels))
        .predict_features(torch.tensor(test))
        .numpy()
    )
    # pytorch-ood: half the squared distance with an undivided scatter matrix (see
    # docstring); its 1e-6 ridge on the scatter matrix is the only difference
    np.testing.assert_allclose(ours**2 / (2 * len(train)), theirs, rtol=1e-7)


def test_mahalanobis_float32_matches_pytorch_ood(rng):
    train, labels = blobs(rng, n=2000, dim=32, classes=2)
    test = rng.normal(scale=3.0, size=(300, 32))
    train, test = train.astype(np.float32), test.astype(np.float32)
    ours = Mahalanobis(covariance="empirical").fit(train, labels).score(test)
    theirs = (
        PytorchOODMahalanobis(None)
        .fit_features(torch.from_numpy(train), torch.from_numpy(labels))
        .predict_features(torch.from_numpy(test))
        .numpy()
    )
    np.testing.assert_allclose(ours**2 / (2 * len(train)), theirs, rtol=2e-4)


def test_single_gaussian_ledoit_wolf_equals_the_lessons_loop(rng):
    train, _ = blobs(rng, n=400, dim=10)
    test = rng.normal(scale=3.0, size=(80, 10))
    det = Mahalanobis(class_conditional=False, covariance="ledoit-wolf").fit(train)
    np.testing.assert_allclose(
        det.score(test), lesson_mahalanobis(train, test), rtol=1e-9
    )
    reference = LedoitWolf().fit(train)
    np.testing.assert_allclose(det.covariance_, reference.covariance_, rtol=1e-10)
    assert det.shrinkage_ == pytest.approx(reference.shrinkage_, rel=1e-10)
    np.testing.assert_allclose(det.precision_, reference.precision_, rtol=1e-8)


def test_tied_ledoit_wolf_covariance_matches_sklearn(rng):
    train, labels = blobs(rng, n=500, dim=8)
    det = Mahalanobis(covariance="ledoit-wolf").fit(train, labels)
    means = np.stack([train[labels == c].mean(0) for c in range(3)])
    np.testing.assert_allclose(det.means_, means, rtol=1e-12)
    cov, shrinkage = ledoit_wolf(train - means[labels], assume_centered=True)
    np.testing.assert_allclose(det.covariance_, cov, rtol=1e-10)
    assert det.shrinkage_ == pytest.approx(shrinkage, rel=1e-10)
    # the score is the distance to the closest class mean
    test = rng.normal(scale=3.0, size=(40, 8))
    prec = np.linalg.inv(cov)
    d = test[:, None, :] - means[None]
    expected = np.sqrt(np.einsum("nkd,de,nke->nk", d, prec, d).min(1))
    np.testing.assert_allclose(det.score(test), expected, rtol=1e-9)
    np.testing.assert_allclose(det.score(means), 0.0, atol=1e-6)


def test_ledoit_wolf_keeps_dead_units_with_float32_features(rng):
    """Shrinkage makes the covariance invertible; drop no direction as 'round-off'.

    Dead ReLU units (always zero on the training data) get the tiny variance alpha * mu
    from the shrinkage. With float32 features that variance can fall below float32
    round-off of the largest eigenvalue, but it was added exactly in float64, so the
    detector must keep it, as the lesson's ``np.linalg.inv`` of the float64 Ledoit-Wolf
    covariance does.
    """
    n, live, dead = 20000, 40, 8
    # live units share one strong factor (one large eigenvalue), as a CNN's features do
    factor = rng.normal(size=(n + 200, 1)) * 10
    live_units = np.maximum(factor + rng.normal(size=(n + 200, live)) * 0.3 + 20, 0)
    train = np.hstack([live_units[:n], np.zeros((n, dead))])
    test = np.hstack([live_units[n:], rng.uniform(0, 0.05, size=(200, dead))])
    reference = LedoitWolf().fit(train)  # float64
    eigenvalues = np.linalg.eigvalsh(reference.covariance_)
    # the dead units' variance is below float32 round-off of the largest eigenvalue
    assert (
        eigenvalues.min()
        < eigenvalues.max() * train.shape[1] * np.finfo(np.float32).eps
    )
    expected = lesson_mahalanobis(train, test)
    det = Mahalanobis(class_conditional=False).fit(train.astype(np.float32))
    np.testing.assert_allclose(det.score(test.astype(np.float32)), expected, rtol=2e-3)
    det64 = Mahalanobis(class_conditional=False).fit(train)
    np.testing.assert_allclose(det64.score(test), expected, rtol=1e-8)


def test_mahalanobis_pseudo_inverts_a_singular_covariance(rng):
    train, labels = blobs(rng, n=300, dim=6)
    train = np.hstack([train, np.zeros((300, 1))])  # a dead ReLU unit: zero variance
    test = np.hstack([rng.normal(size=(20, 6)), rng.uniform(1, 2, size=(20, 1))])
    det = Mahalanobis(covariance="empirical").fit(train, labels)
    scores = det.score(test)
    assert np.isfinite(scores).all()
    means = np.stack([train[labels == c].mean(0) for c in range(3)])
    centred = train - means[labels]
    pinv = np.linalg.pinv(centred.T @ centred / len(train), hermitian=True)
    d = test[:, None, :] - means[None]
    expected = np.sqrt(np.einsum("nkd,de,nke->nk", d, pinv, d).min(1))
    np.testing.assert_allclose(scores, expected, rtol=1e-7)


def test_mahalanobis_ranks_outliers_higher(rng):
    train, labels = blobs(rng)
    inliers = train[:50]
    outliers = train[:50] + 20.0
    det = Mahalanobis().fit(train, labels)
    assert ood_metrics(det.score(inliers), det.score(outliers))["auroc"] == 1.0


def test_mahalanobis_rejects_bad_input(rng):
    train, labels = blobs(rng, n=100, dim=4)
    with pytest.raises(ValueError, match="unknown covariance"):
        Mahalanobis(covariance="shrunk")
    with pytest.raises(ValueError, match="needs the ID class labels"):
        Mahalanobis().fit(train)
    with pytest.raises(ValueError, match="one label per feature row"):
        Mahalanobis().fit(train, labels[:-1])
    with pytest.raises(ValueError, match="integer class ids"):
        Mahalanobis().fit(train, labels + 0.5)
    with pytest.raises(ValueError, match="NaN"):
        Mahalanobis().fit(np.where(train > 2, np.nan, train), labels)
    with pytest.raises(ValueError, match="empty"):
        Mahalanobis(class_conditional=False).fit(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        Mahalanobis(class_conditional=False).fit(train[0])
    with pytest.raises(ValueError, match="at least 2 feature rows"):
        Mahalanobis(class_conditional=False).fit(train[:1])
    with pytest.raises(ValueError, match="zero variance in every direction"):
        Mahalanobis(class_conditional=False).fit(np.ones((10, 4)))
    with pytest.raises(ValueError, match="not fitted"):
        Mahalanobis().score(train)
    det = Mahalanobis().fit(train, labels)
    with pytest.raises(
        ValueError,
        match="4 dimensions but the detector was fitted on 4|have 3 dimensions",
    ):
        det.score(train[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        det.score(np.full((2, 4), np.nan))


# ---------------------------------------------------------------------------
# KNN


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("k", [1, 7])
def test_knn_matches_pytorch_ood(rng, normalize, k):
    train, _ = blobs(rng, n=300, dim=16)
    test = rng.normal(scale=3.0, size=(60, 16))
    ours = KNN(k=k, normalize=normalize, batch_size=25).fit(train).score(test)
    theirs = (
        PytorchOODKNN(None, k=k, normalize=normalize)
        .fit_features(torch.tensor(train), torch.zeros(len(train)))
        .predict_features(torch.tensor(test))
        .numpy()
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)
    # float32 features are compared in float32
    ours32 = (
        KNN(k=k, normalize=normalize)
        .fit(train.astype(np.float32))
        .score(test.astype(np.float32))
    )
    np.testing.assert_allclose(ours32, theirs, rtol=1e-4, atol=1e-4)


def test_knn_known_values():
    train = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 4.0], [0.0, 8.0]])
    det = KNN(k=2, normalize=False).fit(train)
    np.testing.assert_allclose(det.score([[0.0, 0.0], [0.0, 3.0]]), [2.0, 1.0])
    # normalised: every training vector is (0, 1); a vector along x is sqrt(2) away
    det = KNN(k=3, normalize=True).fit(train)
    np.testing.assert_allclose(
        det.score([[5.0, 0.0], [0.0, 0.5]]), [np.sqrt(2), 0.0], atol=1e-7
    )


def test_knn_rejects_bad_input(rng):
    train = rng.normal(size=(20, 5))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            KNN(k=bad)
    with pytest.raises(ValueError, match="batch_size"):
        KNN(batch_size=0)
    with pytest.raises(
        ValueError, match=r"k=50 is larger than the 20 training feature rows"
    ):
        KNN(k=50).fit(train)
    with pytest.raises(ValueError, match="not fitted"):
        KNN(k=3).score(train)
    det = KNN(k=3).fit(train)
    with pytest.raises(
        ValueError, match="features have 4 dimensions but the detector was fitted on 5"
    ):
        det.score(train[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        det.score(np.full((1, 5), np.nan))
    with pytest.raises(ValueError, match="empty"):
        det.score(np.zeros((0, 5)))


# ---------------------------------------------------------------------------
# metrics


def sklearn_fpr_at_95(id_scores, ood_scores):
    """FPR at 95% TPR from sklearn's ROC curve with ID as the positive class."""
    y = np.r_[np.ones(len(id_scores)), np.zeros(len(ood_scores))]
    fpr, tpr, _ = roc_curve(y, -np.r_[id_scores, ood_scores], drop_intermediate=False)
    return fpr[np.searchsorted(tpr, 0.95)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("decimals", [1, 8])  # rounding to 1 decimal makes many ties
def test_ood_metrics_match_sklearn(seed, decimals):
    rng = np.random.default_rng(seed)
    id_s = np.round(rng.normal(size=rng.integers(50, 400)), decimals)
    ood_s = np.round(rng.normal(0.8, 1.3, size=rng.integers(50, 400)), decimals)
    got = ood_metrics(id_s, ood_s)
    y = np.r_[np.zeros(len(id_s)), np.ones(len(ood_s))]
    s = np.r_[id_s, ood_s]
    assert got["auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert got["aupr_out"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert got["aupr_in"] == pytest.approx(
        average_precision_score(1 - y, -s), abs=1e-12
    )
    assert got["fpr_at_95_tpr"] == pytest.approx(
        sklearn_fpr_at_95(id_s, ood_s), abs=1e-12
    )


def test_ood_metrics_known_values():
    perfect = ood_metrics([0.1, 0.2, 0.3], [0.9, 1.0])
    assert perfect == {
        "auroc": 1.0,
        "aupr_in": 1.0,
        "aupr_out": 1.0,
        "fpr_at_95_tpr": 0.0,
    }
    reversed_ = ood_metrics([0.9, 1.0], [0.1, 0.2, 0.3])
    assert reversed_["auroc"] == 0.0 and reversed_["fpr_at_95_tpr"] == 1.0
    tied = ood_metrics([1.0, 1.0], [1.0, 1.0])
    assert tied["auroc"] == 0.5 and tied["fpr_at_95_tpr"] == 1.0


def test_threshold_at_tpr_accepts_the_fraction():
    rng = np.random.default_rng(3)
    for n in (1, 19, 20, 2000, 2001):
        s = rng.normal(size=n)
        for tpr in (0.5, 0.95, 1.0):
            thr = threshold_at_tpr(s, tpr)
            assert np.mean(s <= thr) >= tpr - 1e-12
            assert np.mean(s < thr) < tpr  # the lowest such threshold
    with pytest.raises(ValueError, match=r"tpr must be in \(0, 1\]"):
        threshold_at_tpr([1.0, 2.0], 1.5)


@pytest.mark.parametrize(
    "bad, match",
    [
        ([], "empty"),
        ([0.1, np.nan], "NaN"),
        ([[0.1, 0.2]], "one-dimensional"),
        (["a", "b"], "must hold numbers"),
    ],
)
def test_ood_metrics_reject_bad_input(bad, match):
    with pytest.raises(
        ValueError, match=f"ood_scores.*{match}|ood_scores must be {match}"
    ):
        ood_metrics([0.1, 0.2], bad)
    with pytest.raises(
        ValueError, match=f"id_scores.*{match}|id_scores must be {match}"
    ):
        ood_metrics(bad, [0.1, 0.2])


# ---------------------------------------------------------------------------
# thresholds: three-way confusion matrix and sweep


@pytest.fixture
def three_way(rng):
    n_id, n_ood = 300, 120
    y_true = np.r_[rng.integers(0, 3, n_id), np.full(n_ood, OOD_LABEL)]
    y_pred = np.where(
        rng.random(n_id + n_ood) < 0.8,
        np.clip(y_true, 0, 2),
        rng.integers(0, 3, n_id + n_ood),
    )
    scores = np.round(np.r_[rng.normal(0, 1, n_id), rng.normal(1.5, 1, n_ood)], 1)
    return y_true, y_pred, scores


def test_confusion_matrix_matches_sklearn(three_way):
    y_true, y_pred, scores = three_way
    for thr in (-5.0, 0.0, 0.7, 1.0, 10.0):
        y_hat = np.where(scores > thr, OOD_LABEL, y_pred)
        expected = confusion_matrix(y_true, y_hat, labels=[0, 1, 2, OOD_LABEL])
        np.testing.assert_array_equal(
            ood_confusion_matrix(y_true, y_pred, scores, thr), expected
        )
    assert ood_confusion_matrix(y_true, y_pred, scores, 0.0).sum() == len(scores)


def test_threshold_sweep_matches_sklearn(three_way):
    y_true, y_pred, scores = three_way
    sweep = ood_threshold_sweep(y_true, y_pred, scores)
    assert len(sweep) == len(np.unique(scores)) + 1
    for row in sweep.itertuples():
        y_hat = np.where(scores > row.threshold, OOD_LABEL, y_pred)
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_hat, labels=[0, 1, 2], average="macro", zero_division=0
        )
        po, ro, fo, _ = precision_recall_fscore_support(
            y_true, y_hat, labels=[OOD_LABEL], average="macro", zero_division=0
        )
        np.testing.assert_allclose(
            [
                row.precision,
                row.recall,
                row.f1,
                row.ood_precision,
                row.ood_recall,
                row.ood_f1,
            ],
            [p, r, f, po, ro, fo],
            atol=1e-12,
        )
        assert row.id_accepted == pytest.approx(
            np.mean(y_hat[y_true != OOD_LABEL] != OOD_LABEL)
        )
        assert row.ood_accepted == pytest.approx(
            np.mean(y_hat[y_true == OOD_LABEL] != OOD_LABEL)
        )
    # the lowest threshold flags everything, so no ID sample is kept
    assert sweep.id_accepted.iloc[0] == 0.0 and sweep.ood_recall.iloc[0] == 1.0
    # explicit thresholds, in any order
    some = ood_threshold_sweep(y_true, y_pred, scores, thresholds=[1.0, 0.0])
    assert list(some.threshold) == [1.0, 0.0]


def test_three_way_rejects_bad_input(three_way):
    y_true, y_pred, scores = three_way
    with pytest.raises(ValueError, match=r"y_true contains unknown label\(s\) \[7\]"):
        ood_confusion_matrix(np.r_[y_true[:-1], 7], y_pred, scores, 0.0, n_classes=3)
    with pytest.raises(
        ValueError, match=r"y_pred contains label\(s\) \[-1\] outside the ID classes"
    ):
        ood_confusion_matrix(y_true, np.r_[y_pred[:-1], OOD_LABEL], scores, 0.0)
    with pytest.raises(ValueError, match="one entry per score"):
        ood_threshold_sweep(y_true[:-1], y_pred, scores)
    with pytest.raises(ValueError, match="integer class ids"):
        ood_threshold_sweep(y_true.astype(float), y_pred, scores)
    with pytest.raises(ValueError, match="scores contains .*NaN"):
        ood_threshold_sweep(y_true, y_pred, np.where(scores > 1, np.nan, scores))
    with pytest.raises(ValueError, match="thresholds is empty"):
        ood_threshold_sweep(y_true, y_pred, scores, thresholds=[])
    with pytest.raises(ValueError, match="threshold must be a finite"):
        ood_confusion_matrix(y_true, y_pred, scores, float("nan"))
    with pytest.raises(ValueError, match="no ID class found"):
        ood_confusion_matrix(
            [OOD_LABEL, OOD_LABEL], [0, 0], [0.1, 0.2], 0.0, n_classes=0
        )


# ---------------------------------------------------------------------------
# results table


def test_detector_table():
    id_s, near, far = (
        np.array([0.1, 0.2, 0.3]),
        np.array([0.25, 0.9]),
        np.array([5.0, 6.0]),
    )
    table = detector_table(
        {
            "A": {"id": id_s, "near": near, "far": far},
            "B": {"id": -id_s, "near": near, "far": far},
        }
    )
    assert list(table.index) == ["A", "B"]
    assert list(table.columns) == [
        ("near", "AUROC"),
        ("near", "FPR95"),
        ("far", "AUROC"),
        ("far", "FPR95"),
    ]
    assert table.loc["A", ("near", "AUROC")] == pytest.approx(
        ood_metrics(id_s, near)["auroc"]
    )
    assert table.loc["A", ("near", "FPR95")] == pytest.approx(
        ood_metrics(id_s, near)["fpr_at_95_tpr"]
    )
    assert table.loc["A", ("far", "FPR95")] == 0.0
    assert table.loc["B", ("far", "AUROC")] == 1.0
    full = detector_table(
        {"A": {"id": id_s, "near": near}}, metrics=("aupr_in", "aupr_out")
    )
    assert full.loc["A", ("near", "AUPR-Out")] == pytest.approx(
        ood_metrics(id_s, near)["aupr_out"]
    )
    with pytest.raises(ValueError, match="scores is empty"):
        detector_table({})
    with pytest.raises(ValueError, match="no 'id' entry"):
        detector_table({"A": {"near": near}})
    with pytest.raises(ValueError, match="has OOD sets"):
        detector_table({"A": {"id": id_s, "near": near}, "B": {"id": id_s, "far": far}})
    with pytest.raises(ValueError, match="unknown metric"):
        detector_table({"A": {"id": id_s, "near": near}}, metrics=("accuracy",))
    with pytest.raises(ValueError, match="no OOD set"):
        detector_table({"A": {"id": id_s}})


# --- FPR at a TPR, both definitions; AUROC against pytorch-ood ----------------------


@pytest.fixture
def tied_scores():
    rng = np.random.default_rng(0)
    s_id = rng.normal(0.0, 1.0, 500)
    s_ood = rng.normal(1.5, 1.0, 300)
    # ties across and within sets exercise the tie rules
    return np.round(s_id, 1), np.round(s_ood, 1)


def test_auroc_agrees_with_sklearn_and_pytorch_ood_with_ties(tied_scores):
    import torch
    from pytorch_ood.metrics import functional as F

    s_id, s_ood = tied_scores
    labels = np.r_[np.zeros(len(s_id)), np.ones(len(s_ood))]
    scores = np.r_[s_id, s_ood]
    ours = ood_metrics(s_id, s_ood)["auroc"]
    assert ours == pytest.approx(skm.roc_auc_score(labels, scores))
    torch_labels = torch.as_tensor(
        np.r_[np.zeros(len(s_id)), -np.ones(len(s_ood))]
    ).long()
    assert ours == pytest.approx(float(F.auroc(torch.as_tensor(scores), torch_labels)))


def test_auroc_extremes():
    assert ood_metrics([0, 1, 2], [5, 6])["auroc"] == 1.0
    assert ood_metrics([5, 6], [0, 1, 2])["auroc"] == 0.0
    assert ood_metrics([1, 1], [1, 1, 1])["auroc"] == 0.5


@pytest.mark.parametrize("tpr", [0.95, 0.5, 0.8, 1.0])
def test_fpr_at_tpr_agrees_with_pytorch_ood_and_roc_curve(tied_scores, tpr):
    import torch
    from pytorch_ood.metrics import functional as F

    s_id, s_ood = tied_scores
    ours = fpr_at_tpr(s_id, s_ood, tpr=tpr, positive="ood")
    scores = torch.as_tensor(np.r_[s_id, s_ood])
    labels = torch.as_tensor(np.r_[np.zeros(len(s_id)), -np.ones(len(s_ood))]).long()
    assert ours == pytest.approx(float(F.fpr_at_tpr(scores, labels, tpr=tpr)))
    fpr, tpr_curve, _ = skm.roc_curve(
        np.r_[np.zeros(len(s_id)), np.ones(len(s_ood))], np.r_[s_id, s_ood]
    )
    assert ours == pytest.approx(fpr[np.argmax(tpr_curve >= tpr - 1e-12)])


@pytest.mark.parametrize("tpr", [0.95, 0.5, 0.8, 1.0])
def test_fpr_at_tpr_with_id_positive_agrees_with_roc_curve(tied_scores, tpr):
    """ID as the positive class: negate scores, swap labels, read the ROC curve."""
    s_id, s_ood = tied_scores
    ours = fpr_at_tpr(s_id, s_ood, tpr=tpr, positive="id")
    assert fpr_at_tpr(s_id, s_ood, tpr=tpr) == ours  # the default
    labels = np.r_[np.ones(len(s_id)), np.zeros(len(s_ood))]
    fpr, tpr_curve, _ = skm.roc_curve(labels, -np.r_[s_id, s_ood])
    assert ours == pytest.approx(fpr[np.argmax(tpr_curve >= tpr - 1e-12)])


def test_fpr_at_tpr_two_definitions_differ_by_hand():
    s_id = np.arange(20.0)  # ID scores 0..19
    s_ood = np.arange(20.0) + 10  # OOD scores 10..29
    # OOD positive: flag 19 of 20 outliers -> tau = 11; ID scores 11..19 flagged: 9/20
    assert fpr_at_tpr(s_id, s_ood, positive="ood") == pytest.approx(9 / 20)
    # ID positive: keep 19 of 20 ID -> tau = 18; OOD scores 10..18 are kept: 9/20
    assert fpr_at_tpr(s_id, s_ood, positive="id") == pytest.approx(9 / 20)
    # OOD scores 15..29 plus five far below every ID score (-100..-96). Keeping 95% of
    # ID (tau = 18) lets through 15..18 and the five low ones: 9/20. Catching 95% of the
    # outliers needs tau = -99, which flags every ID sample: 20/20.
    s_ood = np.r_[np.arange(15.0, 30.0), -100.0 + np.arange(5.0)]
    assert fpr_at_tpr(s_id, s_ood, positive="id") == pytest.approx(9 / 20)
    assert fpr_at_tpr(s_id, s_ood, positive="ood") == pytest.approx(20 / 20)


def test_fpr_at_tpr_separated_sets():
    assert fpr_at_tpr(np.arange(100), np.arange(100) + 1000, positive="ood") == 0.0
    assert fpr_at_tpr(np.arange(100), np.arange(100) + 1000, positive="id") == 0.0
    # 20 OOD scores 0..19: catching 95% needs tau = 1, which also flags ID scores 1..19
    assert fpr_at_tpr(
        np.arange(20), np.arange(20), tpr=0.95, positive="ood"
    ) == pytest.approx(0.95)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: fpr_at_tpr([0.1], [np.inf]), "NaN or infinite"),
        (lambda: fpr_at_tpr([0.1], [1.0], tpr=95), "fraction in \\(0, 1\\]"),
        (lambda: fpr_at_tpr([0.1], [1.0], tpr=0.0), "fraction"),
        (lambda: fpr_at_tpr([0.1], [1.0], positive="OOD"), "positive must be 'id'"),
    ],
)
def test_fpr_at_tpr_rejects_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
