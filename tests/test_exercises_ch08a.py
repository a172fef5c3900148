"""The 08a exercise: the reference answer passes, typical wrong answers fail."""

import numpy as np

from trustworthy_lib.exercises import check, expected_answer
from trustworthy_lib.uncertainty import variance_decomposition

RNG = np.random.default_rng(0)
MEANS = RNG.normal(size=(5, 40))


def test_reference_answer_passes_and_agrees_with_the_library():
    answer = MEANS.var(axis=0)
    _, _, epistemic = variance_decomposition(MEANS, np.ones_like(MEANS))
    np.testing.assert_allclose(
        expected_answer("ensemble-epistemic-variance", member_means=MEANS), epistemic
    )
    assert check("ensemble-epistemic-variance", answer, member_means=MEANS)


def test_typical_mistakes_fail_with_their_hint(capsys):
    wrong = {
        "standard deviation": MEANS.std(axis=0),
        "M - 1": MEANS.var(axis=0, ddof=1),
        "mean of the means": MEANS.mean(axis=0),
    }
    for words, answer in wrong.items():
        assert not check("ensemble-epistemic-variance", answer, member_means=MEANS)
        assert words in capsys.readouterr().out
    # the variance over the grid instead of over the members has the wrong shape
    assert not check(
        "ensemble-epistemic-variance", MEANS.var(axis=1), member_means=MEANS
    )
    assert not check("ensemble-epistemic-variance", None, member_means=MEANS)
