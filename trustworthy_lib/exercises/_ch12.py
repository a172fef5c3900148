"""Chapter 12's self-check: a Mahalanobis distance by hand."""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register


def _diff(z, mean):
    return np.asarray(z, dtype=float) - np.asarray(mean, dtype=float)


def _squared(z, mean, covariance) -> float:
    d = _diff(z, mean)
    return float(d @ np.linalg.solve(np.asarray(covariance, dtype=float), d))


register(
    Exercise(
        id="mahalanobis-by-hand",
        chapter="12-ood-distance",
        question=(
            "Compute the Mahalanobis distance sqrt((z - mu)^T Sigma^-1 (z - mu)) of "
            "the feature vector z from a Gaussian with mean mu and covariance Sigma."
        ),
        solve=lambda z, mean, covariance: float(np.sqrt(_squared(z, mean, covariance))),
        hint=(
            "Subtract the mean, multiply by the inverse covariance "
            "(np.linalg.inv or np.linalg.solve), take the dot product with the "
            "difference again, and the square root."
        ),
        mistakes=(
            Mistake(
                lambda z, mean, covariance: _squared(z, mean, covariance),
                "That is the squared distance: take the square root.",
            ),
            Mistake(
                lambda z, mean, covariance: float(
                    np.sqrt(_diff(z, mean) @ np.asarray(covariance) @ _diff(z, mean))
                ),
                "You multiplied by the covariance itself. The distance uses its "
                "*inverse*, so that directions of large spread count less.",
            ),
            Mistake(
                lambda z, mean, covariance: float(np.linalg.norm(_diff(z, mean))),
                "That is the Euclidean distance. Weight the difference by the "
                "inverse covariance.",
            ),
        ),
        rtol=1e-4,
    )
)
