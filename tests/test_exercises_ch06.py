import numpy as np

from trustworthy_lib.exercises import check, expected_answer

DEV = np.array([0.70, 0.74, 0.78, 0.83, 0.81, 0.80, 0.79])
TEST = np.array([0.71, 0.75, 0.77, 0.80, 0.82, 0.81, 0.80])  # best on test: layer 4


def test_reference_answer_passes(capsys):
    assert (
        expected_answer("probe-layer-on-dev", dev_accuracy=DEV, test_accuracy=TEST) == 3
    )
    assert check("probe-layer-on-dev", 3, dev_accuracy=DEV, test_accuracy=TEST)
    assert check(
        "probe-layer-on-dev", np.int64(3), dev_accuracy=DEV, test_accuracy=TEST
    )
    assert "Correct" in capsys.readouterr().out


def test_typical_mistakes_fail_with_their_hint(capsys):
    assert not check("probe-layer-on-dev", 4, dev_accuracy=DEV, test_accuracy=TEST)
    assert "TEST reviews" in capsys.readouterr().out  # chosen on the test split
    dev = np.array([0.70, 0.74, 0.83, 0.78, 0.81, 0.80, 0.79])  # best on dev: 2
    assert not check("probe-layer-on-dev", 3, dev_accuracy=dev, test_accuracy=TEST)
    assert "Off by one" in capsys.readouterr().out  # 1-based layer number
    assert not check("probe-layer-on-dev", 6, dev_accuracy=DEV, test_accuracy=TEST)
    assert "last layer" in capsys.readouterr().out
    assert not check("probe-layer-on-dev", 0.83, dev_accuracy=DEV, test_accuracy=TEST)
    out = capsys.readouterr().out
    assert "layer number" in out and "3" not in out.split("]", 1)[1]  # accuracy given


def test_no_answer_prints_a_hint_without_raising(capsys):
    assert not check("probe-layer-on-dev", None, dev_accuracy=DEV, test_accuracy=TEST)
    assert "Not yet" in capsys.readouterr().out
