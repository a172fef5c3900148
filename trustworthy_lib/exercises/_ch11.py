"""Chapter 11's self-check: the energy of one row of logits."""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register


def _logsumexp(v) -> float:
    v = np.asarray(v, dtype=float)
    m = v.max()
    return float(m + np.log(np.exp(v - m).sum()))


def _softmax(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    e = np.exp(v - v.max())
    return e / e.sum()


register(
    Exercise(
        id="energy-of-a-row",
        chapter="11-ood-energy",
        question=(
            "Compute the energy score E = -log sum_k exp(f_k) (temperature 1) of one "
            "row of logits f."
        ),
        solve=lambda logits: -_logsumexp(logits),
        hint=(
            "Exponentiate each logit, add them up, take the log, and negate: "
            "-np.log(np.exp(f).sum()) (or -scipy.special.logsumexp(f))."
        ),
        mistakes=(
            Mistake(
                lambda logits: _logsumexp(logits),
                "Check the sign: the energy is *minus* the log-sum-exp, so that "
                "large logits (a confident ID input) give a low energy.",
            ),
            Mistake(
                lambda logits: -_logsumexp(_softmax(logits)),
                "You used the softmax probabilities. The energy is computed from the "
                "logits themselves, before the softmax.",
            ),
            Mistake(
                lambda logits: -float(np.max(logits)),
                "That is the max-logit score. The energy adds up all the logits with "
                "log-sum-exp, not only the largest.",
            ),
        ),
    )
)
