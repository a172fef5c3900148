"""The 08b exercises: reference answers pass, typical wrong answers fail."""

import numpy as np
import pytest
import torch
from scipy.stats import entropy
from torchmetrics.classification import MulticlassCalibrationError

from trustworthy_lib.calibration import expected_calibration_error
from trustworthy_lib.exercises import check, expected_answer
from trustworthy_lib.uncertainty import entropy_decomposition

RNG = np.random.default_rng(0)
LOGITS = 2 * RNG.normal(size=(300, 4))
PROBS = torch.softmax(torch.as_tensor(LOGITS), dim=1).numpy()
LABELS = RNG.integers(0, 4, 300)


def test_entropy_of_a_row():
    row = PROBS[0]
    assert expected_answer("entropy-of-a-row", probs_row=row) == pytest.approx(
        entropy(row)
    )
    assert check("entropy-of-a-row", entropy(row), probs_row=row)
    assert expected_answer("entropy-of-a-row", probs_row=[1.0, 0.0, 0.0]) == 0.0


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda p: entropy(p, base=2), "bits"),
        (lambda p: -entropy(p), "sign"),
        (lambda p: entropy(torch.softmax(torch.as_tensor(p), 0).numpy()), "softmax"),
    ],
)
def test_entropy_of_a_row_mistakes(wrong, words, capsys):
    row = PROBS[1]
    assert not check("entropy-of-a-row", wrong(row), probs_row=row)
    assert words in capsys.readouterr().out


def test_entropy_of_a_row_refuses_logits():
    with pytest.raises(ValueError, match="softmax"):
        expected_answer("entropy-of-a-row", probs_row=LOGITS[0])


def test_mutual_information_of_members():
    members = PROBS[:5]  # five "members" predicting one input
    _, aleatoric, epistemic = entropy_decomposition(members[:, None, :])
    assert expected_answer(
        "mutual-information-of-members", member_probs=members
    ) == pytest.approx(epistemic[0])
    assert check("mutual-information-of-members", epistemic[0], member_probs=members)
    total = entropy(members.mean(0))
    for wrong, _mistake in [
        (total, "total entropy"),
        (aleatoric[0], "aleatoric"),
        (epistemic[0] / np.log(2), "bits"),
    ]:
        assert not check("mutual-information-of-members", wrong, member_probs=members)
    # identical members disagree about nothing
    same = np.repeat(PROBS[:1], 4, axis=0)
    assert expected_answer(
        "mutual-information-of-members", member_probs=same
    ) == pytest.approx(0.0, abs=1e-12)


def test_mutual_information_mistake_hints(capsys):
    members = PROBS[:5]
    _, aleatoric, _ = entropy_decomposition(members[:, None, :])
    check("mutual-information-of-members", aleatoric[0], member_probs=members)
    assert "aleatoric" in capsys.readouterr().out


def test_ece_reference_agrees_with_the_library_and_torchmetrics():
    ece = expected_answer("ece-fifteen-bins", probs=PROBS, labels=LABELS)
    assert ece == pytest.approx(
        expected_calibration_error(PROBS.astype(np.float64), LABELS), abs=1e-9
    )
    metric = MulticlassCalibrationError(num_classes=4, n_bins=15, norm="l1")
    ref = float(
        metric(torch.as_tensor(PROBS, dtype=torch.float64), torch.as_tensor(LABELS))
    )
    assert ece == pytest.approx(ref, abs=1e-6)
    assert check("ece-fifteen-bins", ece, probs=PROBS, labels=LABELS)


def test_ece_mistakes_fail(capsys):
    conf, pred = PROBS.max(1), PROBS.argmax(1)
    ece = expected_calibration_error(PROBS, LABELS)
    unweighted = []
    bins = np.minimum((conf * 15).astype(int), 15)
    for b in np.unique(bins):
        m = bins == b
        unweighted.append(abs((pred[m] == LABELS[m]).mean() - conf[m].mean()))
    cases = [
        (100 * ece, "percentage"),
        (float(np.mean(unweighted)), "Weight each bin"),
        (expected_calibration_error(PROBS, LABELS, n_bins=10), "15 bins"),
    ]
    for wrong, words in cases:
        assert not check("ece-fifteen-bins", wrong, probs=PROBS, labels=LABELS)
        assert words in capsys.readouterr().out
    # the probability of the true class is not the confidence
    conf_true = PROBS[np.arange(len(LABELS)), LABELS]
    bins = np.minimum((conf_true * 15).astype(int), 15)
    wrong = sum(
        (bins == b).mean()
        * abs(
            (pred[bins == b] == LABELS[bins == b]).mean() - conf_true[bins == b].mean()
        )
        for b in np.unique(bins)
    )
    assert not check("ece-fifteen-bins", wrong, probs=PROBS, labels=LABELS)
    assert "true class" in capsys.readouterr().out
