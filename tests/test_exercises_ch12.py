"""Chapter 12's exercise: a Mahalanobis distance by hand."""

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis

from trustworthy_lib.exercises import check
from trustworthy_lib.ood import Mahalanobis


@pytest.fixture
def gaussian():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(500, 4)) @ np.array(
        [[2.0, 0, 0, 0], [0.5, 1.0, 0, 0], [0, 0, 0.3, 0], [0, 0.2, 0, 1.5]]
    )
    return x, x.mean(0), np.cov(x, rowvar=False, bias=True), rng.normal(size=4)


def test_reference_distance_passes_and_agrees_with_scipy_and_the_detector(
    gaussian, capsys
):
    x, mean, cov, z = gaussian
    d = z - mean
    answer = np.sqrt(d @ np.linalg.inv(cov) @ d)
    ctx = {"z": z, "mean": mean, "covariance": cov}
    assert check("mahalanobis-by-hand", answer, **ctx)
    assert "Correct" in capsys.readouterr().out
    np.testing.assert_allclose(answer, scipy_mahalanobis(z, mean, np.linalg.inv(cov)))
    det = Mahalanobis(class_conditional=False, covariance="empirical").fit(x)
    np.testing.assert_allclose(answer, det.score(z[None])[0], rtol=1e-5)


@pytest.mark.parametrize(
    "wrong, word",
    [
        (lambda d, cov: d @ np.linalg.inv(cov) @ d, "squared"),
        (lambda d, cov: np.sqrt(d @ cov @ d), "inverse"),
        (lambda d, cov: np.linalg.norm(d), "Euclidean"),
        (lambda d, cov: np.sqrt(d @ np.linalg.inv(cov) @ d) + 0.1, "Subtract"),
    ],
)
def test_typical_mistakes_fail_with_their_hint(gaussian, capsys, wrong, word):
    _, mean, cov, z = gaussian
    answer = wrong(z - mean, cov)
    assert not check("mahalanobis-by-hand", answer, z=z, mean=mean, covariance=cov)
    assert word in capsys.readouterr().out
