import numpy as np

from trustworthy_lib.exercises import check

GRADS = np.random.default_rng(0).normal(size=(16, 7, 7))


def test_reference_answer_passes(capsys):
    assert check("gradcam-channel-weights", GRADS.mean(axis=(1, 2)), grads=GRADS)
    assert "Correct" in capsys.readouterr().out


def test_typical_mistakes_fail_with_their_hint(capsys):
    assert not check("gradcam-channel-weights", GRADS.sum(axis=(1, 2)), grads=GRADS)
    assert "sum over positions" in capsys.readouterr().out
    assert not check("gradcam-channel-weights", -GRADS.mean(axis=(1, 2)), grads=GRADS)
    assert "sign" in capsys.readouterr().out
    relu_first = np.maximum(GRADS, 0).mean(axis=(1, 2))
    assert not check("gradcam-channel-weights", relu_first, grads=GRADS)
    assert "ReLU" in capsys.readouterr().out
    # the mean over channels (the wrong axis) has the wrong shape
    assert not check("gradcam-channel-weights", GRADS.mean(axis=0), grads=GRADS)
    assert not check("gradcam-channel-weights", None, grads=GRADS)
