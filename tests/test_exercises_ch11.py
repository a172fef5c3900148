"""Chapter 11's exercise: the energy of a row of logits."""

import numpy as np
import pytest
import torch
from pytorch_ood.detector import EnergyBased
from scipy.special import logsumexp, softmax

from trustworthy_lib.exercises import check
from trustworthy_lib.ood import energy_score

ROW = np.array([2.5, -1.0])


def test_reference_energy_passes_and_matches_the_libraries(capsys):
    answer = -np.log(np.exp(ROW).sum())
    assert check("energy-of-a-row", answer, logits=ROW)
    assert "Correct" in capsys.readouterr().out
    np.testing.assert_allclose(answer, energy_score(ROW[None])[0], rtol=1e-12)
    theirs = EnergyBased(None).predict_logits(torch.tensor(ROW[None])).numpy()
    np.testing.assert_allclose(answer, theirs[0], rtol=1e-6)


def test_large_logits_are_checked_without_overflow(capsys):
    row = np.array([1000.0, 998.0, -5.0])
    assert check("energy-of-a-row", -logsumexp(row), logits=row)


@pytest.mark.parametrize(
    "wrong, word",
    [
        (lambda f: logsumexp(f), "sign"),
        (lambda f: -logsumexp(softmax(f)), "softmax probabilities"),
        (lambda f: -np.max(f), "max-logit"),
        (lambda f: -np.log(np.exp(f).sum()) / 2, "log"),
    ],
)
def test_typical_mistakes_fail_with_their_hint(capsys, wrong, word):
    assert not check("energy-of-a-row", wrong(ROW), logits=ROW)
    assert word in capsys.readouterr().out
