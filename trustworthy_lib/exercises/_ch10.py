"""Chapter 10's self-check: the threshold that keeps 95% of the ID images."""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register


def _q(scores, level: float, method: str = "inverted_cdf") -> float:
    return float(np.quantile(np.asarray(scores, dtype=float), level, method=method))


register(
    Exercise(
        id="threshold-keep-95-id",
        chapter="10-ood-softmax",
        question=(
            "OOD scores are larger for outliers, and an image is kept as ID when its "
            "score is at or below the threshold. Which threshold keeps 95% of the ID "
            "images? Use np.quantile with method='inverted_cdf', so that the "
            "threshold is one of the ID scores."
        ),
        solve=lambda id_scores, ood_scores: _q(id_scores, 0.95),
        hint=(
            "Take the 0.95 quantile (np.quantile, method='inverted_cdf') of the ID "
            "scores only: 95% of them lie at or below it."
        ),
        mistakes=(
            Mistake(
                lambda id_scores, ood_scores: _q(ood_scores, 0.95),
                "That threshold comes from the OOD scores. The threshold that keeps "
                "95% of ID images is set on the ID scores alone; OOD data is what it "
                "is tested on.",
            ),
            Mistake(
                lambda id_scores, ood_scores: _q(np.r_[id_scores, ood_scores], 0.95),
                "That threshold mixes ID and OOD scores. Use the ID scores alone.",
            ),
            Mistake(
                lambda id_scores, ood_scores: _q(ood_scores, 0.05),
                "That threshold catches 95% of the OOD images: it treats OOD as the "
                "positive class. Here ID is positive: keep 95% of the ID images.",
            ),
            Mistake(
                lambda id_scores, ood_scores: _q(id_scores, 0.05),
                "Only 5% of the ID images lie at or below that threshold. Larger "
                "scores mean OOD, so the kept 95% are the ones *below* the threshold.",
            ),
            Mistake(
                lambda id_scores, ood_scores: _q(id_scores, 0.95, "linear"),
                "Close: that quantile interpolates between two ID scores. Pass "
                "method='inverted_cdf' so that the threshold is an ID score itself.",
            ),
        ),
    )
)
