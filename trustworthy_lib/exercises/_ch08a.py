"""Self-check exercises of chapter 08a (uncertainty in regression)."""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register


def _means(member_means) -> np.ndarray:
    m = np.asarray(member_means, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(
            f"member_means must have shape (M, N): M members, N inputs; got {m.shape}"
        )
    return m


register(
    Exercise(
        id="ensemble-epistemic-variance",
        chapter="08a",
        question=(
            "From the ensemble members' means on the grid, shape (M, N), compute the "
            "epistemic variance at every grid point: an array of shape (N,)."
        ),
        solve=lambda member_means: _means(member_means).var(axis=0),
        hint=(
            "The epistemic part is the variance of the M members' means at each x: "
            "average over the member axis (axis 0), not over the grid."
        ),
        mistakes=(
            Mistake(
                lambda member_means: _means(member_means).std(axis=0),
                "That is a standard deviation; the decomposition adds variances.",
            ),
            Mistake(
                lambda member_means: _means(member_means).var(axis=0, ddof=1),
                "Divide by M, not M - 1: the law of total variance uses the plain mean "
                "over the members (np.var's default, ddof=0).",
            ),
            Mistake(
                lambda member_means: _means(member_means).mean(axis=0),
                "That is the ensemble's prediction (the mean of the means), not how "
                "much "
                "the members disagree.",
            ),
        ),
    )
)
