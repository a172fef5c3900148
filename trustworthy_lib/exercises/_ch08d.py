"""Self-check exercises of chapter 08d (a toolbox of uncertainty methods)."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from trustworthy_lib.exercises import Exercise, Mistake, register


def _regression_arrays(y, mean, std):
    y, mean, std = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (y, mean, std))
    if not len(y) == len(mean) == len(std):
        raise ValueError(
            f"y, mean and std must have one entry per test point, got {len(y)}, "
            f"{len(mean)} and {len(std)}"
        )
    return y, mean, std


def _coverage(y, mean, std, z, two_sided=True):
    y, mean, std = _regression_arrays(y, mean, std)
    if two_sided:
        return float(np.mean(np.abs(y - mean) <= z * std))
    return float(np.mean(y <= mean + z * std))


register(
    Exercise(
        id="luq-interval-coverage",
        chapter="08d",
        question="Test coverage of the central 90 % Gaussian interval mean +- z * std.",
        solve=lambda y, mean, std: _coverage(y, mean, std, norm.ppf(0.95)),
        hint="Count the test points with |y - mean| <= z * std, z = norm.ppf(0.95), "
        "and divide by the number of points.",
        rtol=0.0,
        atol=1e-9,
        mistakes=(
            Mistake(
                lambda y, mean, std: _coverage(y, mean, std, norm.ppf(0.975)),
                "That is the 95 % interval: a central 90 % interval leaves 5 % in "
                "each tail, so z = norm.ppf(0.95).",
            ),
            Mistake(
                lambda y, mean, std: _coverage(y, mean, np.square(std), norm.ppf(0.95)),
                "pred_uct is already a standard deviation; do not square it.",
            ),
            Mistake(
                lambda y, mean, std: _coverage(y, mean, std, norm.ppf(0.95), False),
                "That counts only the upper side; the interval has a lower end too.",
            ),
        ),
    )
)


def _probs(probs):
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must have shape (points, classes), got {p.shape}")
    return p


register(
    Exercise(
        id="luq-ring-confidence",
        chapter="08d",
        question="Mean maximum class probability over the points of a ring.",
        solve=lambda probs: float(_probs(probs).max(axis=1).mean()),
        hint="Take each point's largest class probability (max over axis 1), "
        "then average.",
        rtol=1e-6,
        atol=1e-9,
        mistakes=(
            Mistake(
                lambda probs: float(_probs(probs).mean(axis=0).max()),
                "You averaged the probabilities over points first; take the maximum "
                "per point, then average.",
            ),
            Mistake(
                lambda probs: float(_probs(probs).argmax(axis=1).mean()),
                "argmax gives the class index, not its probability; use max.",
            ),
        ),
    )
)
