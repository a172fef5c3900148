import numpy as np
import pytest

from trustworthy_lib.conformal import SplitConformalClassifier
from trustworthy_lib.exercises import EXERCISES, check, expected_answer


@pytest.fixture
def run():
    rng = np.random.default_rng(0)
    z = 2 * rng.normal(size=(600, 4))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = (p.cumsum(axis=1) < rng.random(600)[:, None]).sum(axis=1).clip(max=3)
    model = SplitConformalClassifier(0.1).fit(p[:200], y[:200])
    return {
        "probs_cal": p[:200],
        "labels_cal": y[:200],
        "alpha": 0.1,
        "sets_cal": model.predict_sets(p[:200]),
        "y_cal": y[:200],
        "sets_test": model.predict_sets(p[200:]),
        "y_test": y[200:],
    }


def test_the_three_exercises_are_registered_for_the_chapter():
    for name in ("conformal-rank", "lac-threshold", "test-coverage"):
        assert EXERCISES[name].chapter == "08c-conformal-prediction"


def test_conformal_rank(capsys):
    assert check("conformal-rank", 181, n=200, alpha=0.1)  # ceil(201 * 0.9) = 181
    assert check("conformal-rank", 9, n=9, alpha=0.1)  # 10 * 0.9 is exactly 9
    assert not check("conformal-rank", 180, n=200, alpha=0.1)  # ceil(200 * 0.9)
    assert "n + 1" in capsys.readouterr().out
    assert not check("conformal-rank", 181, n=201, alpha=0.1)  # floor(202 * 0.9)
    assert "rounded up" in capsys.readouterr().out
    assert not check("conformal-rank", 0.9, n=200, alpha=0.1)


def test_lac_threshold(run, capsys):
    scores = 1 - run["probs_cal"][np.arange(200), run["labels_cal"]]
    right = np.sort(scores)[180]  # k = 181
    ctx = {k: run[k] for k in ("probs_cal", "labels_cal", "alpha")}
    assert expected_answer("lac-threshold", **ctx) == pytest.approx(right)
    assert check("lac-threshold", right, **ctx)
    assert not check("lac-threshold", np.quantile(scores, 0.9), **ctx)
    assert "finite-sample" in capsys.readouterr().out
    wrong_class = np.sort(1 - run["probs_cal"].max(axis=1))[180]
    assert not check("lac-threshold", wrong_class, **ctx)
    assert "TRUE class" in capsys.readouterr().out


def test_test_coverage(run, capsys):
    ctx = {k: run[k] for k in ("sets_test", "y_test", "sets_cal", "y_cal")}
    right = run["sets_test"][np.arange(400), run["y_test"]].mean()
    assert check("test-coverage", right, **ctx)
    on_cal = run["sets_cal"][np.arange(200), run["y_cal"]].mean()
    assert on_cal != pytest.approx(right)
    assert not check("test-coverage", on_cal, **ctx)
    assert "calibration images" in capsys.readouterr().out
    assert not check("test-coverage", run["sets_test"].sum(axis=1).mean(), **ctx)
    assert "set size" in capsys.readouterr().out
    assert not check("test-coverage", None, **ctx)
