"""Self-check exercises of chapter 08b (uncertainty and calibration)."""

from __future__ import annotations

import numpy as np

from trustworthy_lib.exercises import Exercise, Mistake, register


def _row(probs_row) -> np.ndarray:
    p = np.asarray(probs_row, dtype=np.float64)
    if p.ndim != 1 or (p < 0).any() or abs(p.sum() - 1) > 1e-3:
        raise ValueError(
            "probs_row must be one row of probabilities (non-negative, summing to 1); "
            "for logits apply a softmax first"
        )
    return p


def _entropy(p, log=np.log) -> float:
    p = p[p > 0]
    return float(-(p * log(p)).sum())


def _softmax(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


register(
    Exercise(
        id="entropy-of-a-row",
        chapter="08b",
        question="Compute the entropy, in nats, of one row of probabilities.",
        solve=lambda probs_row: _entropy(_row(probs_row)),
        hint="H(p) = -sum_k p_k log p_k with the natural log; p_k = 0 terms count 0.",
        mistakes=(
            Mistake(
                lambda probs_row: _entropy(_row(probs_row), np.log2),
                "That is the entropy in bits (log base 2); use nats, np.log.",
            ),
            Mistake(
                lambda probs_row: -_entropy(_row(probs_row)),
                "Check the sign: an entropy is never negative.",
            ),
            Mistake(
                lambda probs_row: _entropy(_softmax(_row(probs_row))),
                "You applied a softmax to values that are already probabilities: the "
                "softmax is for logits only.",
            ),
        ),
    )
)


def _members(member_probs) -> np.ndarray:
    p = np.asarray(member_probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(
            f"member_probs must have shape (S, C), one probability row per member or "
            f"dropout pass for a single input; got {p.shape}"
        )
    return p


def _parts(member_probs, log=np.log) -> tuple[float, float]:
    p = _members(member_probs)
    total = _entropy(p.mean(axis=0), log)
    expected = float(np.mean([_entropy(row, log) for row in p]))
    return total, expected


register(
    Exercise(
        id="mutual-information-of-members",
        chapter="08b",
        question=(
            "For one input, given the S members' probability rows (S, C), compute "
            "the mutual information (the epistemic part), in nats."
        ),
        solve=lambda member_probs: _parts(member_probs)[0] - _parts(member_probs)[1],
        hint=(
            "Mutual information = entropy of the average row minus the average of the "
            "rows' entropies."
        ),
        mistakes=(
            Mistake(
                lambda member_probs: _parts(member_probs)[0],
                "That is the total entropy (of the average row); subtract the expected "
                "entropy to keep only the disagreement.",
            ),
            Mistake(
                lambda member_probs: _parts(member_probs)[1],
                "That is the expected entropy, the aleatoric part.",
            ),
            Mistake(
                lambda member_probs: (
                    _parts(member_probs, np.log2)[0] - _parts(member_probs, np.log2)[1]
                ),
                "That is in bits (log base 2); use the natural log for nats.",
            ),
        ),
    )
)


def _ece(probs, labels, n_bins=15, weighted=True, confidence="top") -> float:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels).astype(int)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError("probs must be (N, C) with one label per row")
    correct = (p.argmax(axis=1) == y).astype(float)
    conf = p.max(axis=1) if confidence == "top" else p[np.arange(len(y)), y]
    edges = np.linspace(0, 1, n_bins + 1)
    # left-closed bins [m/M, (m+1)/M); a confidence of exactly 1 gets its own bin
    idx = np.searchsorted(edges, conf, side="right") - 1
    gaps, weights = [], []
    for b in np.unique(idx):
        in_bin = idx == b
        gaps.append(abs(correct[in_bin].mean() - conf[in_bin].mean()))
        weights.append(in_bin.mean())
    return float(np.dot(weights, gaps) if weighted else np.mean(gaps))


register(
    Exercise(
        id="ece-fifteen-bins",
        chapter="08b",
        question=(
            "Compute the expected calibration error (a fraction, not a percentage) of "
            "the "
            "probabilities with 15 equal-width bins of top-label confidence."
        ),
        solve=lambda probs, labels: _ece(probs, labels),
        hint=(
            "Bin by the top-label confidence max_k p_k; in each bin take |accuracy - "
            "mean "
            "confidence| and weight it by the fraction of predictions in the bin."
        ),
        rtol=1e-4,
        atol=1e-5,
        mistakes=(
            Mistake(
                lambda probs, labels: 100 * _ece(probs, labels),
                "That is a percentage; give the ECE as a fraction between 0 and 1.",
            ),
            Mistake(
                lambda probs, labels: _ece(probs, labels, weighted=False),
                "Weight each bin's gap by the share of predictions in it; a plain mean "
                "over bins lets a bin of three images count as much as one of a "
                "thousand.",
            ),
            Mistake(
                lambda probs, labels: _ece(probs, labels, confidence="true"),
                "The confidence is the largest probability of the row (the predicted "
                "class), not the probability of the true class.",
            ),
            Mistake(
                lambda probs, labels: _ece(probs, labels, n_bins=10),
                "Use 15 bins, as the chapter does.",
            ),
        ),
    )
)
