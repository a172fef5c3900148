import numpy as np
from scipy.stats import norm

from trustworthy_lib.exercises import check, expected_answer


def _regression(seed=0, n=500):
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=n)
    std = rng.uniform(0.5, 1.5, size=n)
    y = mean + std * rng.normal(size=n)
    return y[:, None], mean, std


def test_coverage_reference_answer_passes_and_matches_the_formula():
    y, mean, std = _regression()
    manual = np.mean(np.abs(y[:, 0] - mean) <= 1.6448536269514722 * std)
    assert expected_answer("luq-interval-coverage", y=y, mean=mean, std=std) == manual
    assert 0.85 < manual < 0.95
    assert check("luq-interval-coverage", manual, y=y, mean=mean, std=std)


def test_coverage_typical_mistakes_fail(capsys):
    y, mean, std = _regression()
    z90, z95 = norm.ppf(0.95), norm.ppf(0.975)
    wrong = {
        "95 %": np.mean(np.abs(y[:, 0] - mean) <= z95 * std),
        "squared": np.mean(np.abs(y[:, 0] - mean) <= z90 * std**2),
        "one-sided": np.mean(y[:, 0] <= mean + z90 * std),
    }
    for key, answer in wrong.items():
        assert not check("luq-interval-coverage", answer, y=y, mean=mean, std=std), key
    out = capsys.readouterr().out
    assert "95 %" in out and "do not square" in out and "lower end" in out
    assert not check("luq-interval-coverage", None, y=y, mean=mean, std=std)


def test_ring_confidence_reference_and_mistakes(capsys):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3) * 0.5, size=200)
    assert check("luq-ring-confidence", probs.max(axis=1).mean(), probs=probs)
    assert not check("luq-ring-confidence", probs.mean(axis=0).max(), probs=probs)
    assert not check("luq-ring-confidence", probs.argmax(axis=1).mean(), probs=probs)
    out = capsys.readouterr().out
    assert "per point" in out and "argmax" in out
