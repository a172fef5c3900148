import numpy as np
import pytest

from trustworthy_lib.exercises import check, expected_answer
from trustworthy_lib.metrics import equal_opportunity_difference

RNG = np.random.default_rng(0)
Y = RNG.integers(0, 2, 400)
GROUP = RNG.integers(0, 2, 400)
PRED = np.where(RNG.random(400) < 0.3 + 0.3 * GROUP, Y, 1 - Y)  # group 1 better served
CONTEXT = {"y_true": Y, "y_pred": PRED, "protected": GROUP}


def test_reference_answer_agrees_with_the_library_and_passes(capsys):
    expected = expected_answer("card-tpr-gap", **CONTEXT)
    assert expected == pytest.approx(
        equal_opportunity_difference(Y, PRED, GROUP, privileged=1)
    )
    assert check("card-tpr-gap", expected, **CONTEXT)
    assert "Correct" in capsys.readouterr().out


def test_typical_mistakes_fail_with_their_hint(capsys):
    tpr = [PRED[(GROUP == g) & (Y == 1)].mean() for g in (0, 1)]
    assert not check("card-tpr-gap", tpr[1] - tpr[0], **CONTEXT)  # wrong sign
    assert "order" in capsys.readouterr().out
    tnr = [(PRED[(GROUP == g) & (Y == 0)] == 0).mean() for g in (0, 1)]
    assert not check("card-tpr-gap", tnr[0] - tnr[1], **CONTEXT)  # wrong positive class
    assert "positive class" in capsys.readouterr().out
    sel = PRED[GROUP == 0].mean() - PRED[GROUP == 1].mean()
    assert not check("card-tpr-gap", sel, **CONTEXT)
    assert "selection rates" in capsys.readouterr().out
    assert not check("card-tpr-gap", None, **CONTEXT)
