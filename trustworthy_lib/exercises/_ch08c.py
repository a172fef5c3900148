"""Self-check exercises of chapter 08c (conformal prediction)."""

from __future__ import annotations

import math

import numpy as np

from trustworthy_lib.conformal import conformal_quantile, coverage, quantile_rank
from trustworthy_lib.exercises import Exercise, Mistake, register

CHAPTER = "08c-conformal-prediction"


def _true_class_scores(probs, labels):
    p = np.asarray(probs, dtype=np.float64)
    return 1.0 - p[np.arange(len(p)), np.asarray(labels)]


register(
    Exercise(
        id="conformal-rank",
        chapter=CHAPTER,
        question=(
            "With n calibration scores and miscoverage alpha, which rank k (1 = the "
            "smallest score) does the split-conformal threshold take?"
        ),
        solve=lambda n, alpha: quantile_rank(n, alpha),
        hint="k = ceil((n + 1)(1 - alpha)): the new point makes n + 1, and round up.",
        rtol=0,
        atol=0,
        mistakes=(
            Mistake(
                lambda n, alpha: math.ceil(round(n * (1 - alpha), 9)),
                "Count the test point too: the rank comes from n + 1 points, and it "
                "is rounded up (rounding (n + 1)(1 - alpha) down usually gives this "
                "same wrong answer).",
            ),
        ),
    )
)

register(
    Exercise(
        id="lac-threshold",
        chapter=CHAPTER,
        question=(
            "Compute the LAC threshold q_hat from the calibration probabilities and "
            "labels: the conformal quantile of the scores 1 - p(true class)."
        ),
        solve=lambda probs_cal, labels_cal, alpha: conformal_quantile(
            _true_class_scores(probs_cal, labels_cal), alpha
        ),
        hint=(
            "Score each calibration image with 1 minus the probability of its TRUE "
            "class, sort the scores and take the k-th smallest, "
            "k = ceil((n + 1)(1 - alpha))."
        ),
        mistakes=(
            Mistake(
                lambda probs_cal, labels_cal, alpha: float(
                    np.quantile(_true_class_scores(probs_cal, labels_cal), 1 - alpha)
                ),
                "np.quantile(scores, 1 - alpha) has no finite-sample correction: use "
                "the k-th smallest score with k = ceil((n + 1)(1 - alpha)).",
            ),
            Mistake(
                lambda probs_cal, labels_cal, alpha: conformal_quantile(
                    1.0 - np.asarray(probs_cal).max(axis=1), alpha
                ),
                "You scored the predicted (most probable) class; the score uses the "
                "probability of the TRUE class of each calibration image.",
            ),
        ),
    )
)

register(
    Exercise(
        id="test-coverage",
        chapter=CHAPTER,
        question=(
            "Measure the coverage of the LAC sets: the fraction of images whose set "
            "holds their true label, on the data that can tell you something."
        ),
        solve=lambda sets_test, y_test, sets_cal, y_cal: coverage(sets_test, y_test),
        hint=(
            "Coverage is the mean of sets[i, y[i]] over the TEST images; the "
            "calibration images cannot check a threshold that was fitted on them."
        ),
        mistakes=(
            Mistake(
                lambda sets_test, y_test, sets_cal, y_cal: coverage(sets_cal, y_cal),
                "That is the coverage on the calibration images, which holds by "
                "construction (about k / n); measure it on the test images.",
            ),
            Mistake(
                lambda sets_test, y_test, sets_cal, y_cal: float(
                    np.asarray(sets_test).sum(axis=1).mean()
                ),
                "That is the mean set size; coverage asks whether the TRUE label is in "
                "the set.",
            ),
        ),
    )
)
