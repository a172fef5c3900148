import numpy as np
import pytest

from trustworthy_lib.exercises import check, expected_answer
from trustworthy_lib.fairness import group_metrics
from trustworthy_lib.metrics import group_rates


@pytest.fixture
def split():
    rng = np.random.default_rng(3)
    n = 500
    protected = (rng.random(n) < 0.7).astype(int)  # 1 = privileged
    y_true = (rng.random(n) < np.where(protected == 1, 0.25, 0.18)).astype(int)
    score = 0.4 * y_true + 0.1 * protected + 0.6 * rng.random(n)
    y_pred = (score > 0.45).astype(int)
    return {"y_true": y_true, "y_pred": y_pred, "protected": protected}


def test_tpr_reference_answer_agrees_with_the_library_and_passes(split):
    rates = group_rates(split["y_true"], split["y_pred"], split["protected"])
    expected = expected_answer("ch03-tpr-unprivileged", **split)
    assert expected == pytest.approx(rates.loc[0, "true_positive_rate"])
    t, p, a = split["y_true"], split["y_pred"], split["protected"]
    tp = np.sum((a == 0) & (t == 1) & (p == 1))
    fn = np.sum((a == 0) & (t == 1) & (p == 0))
    assert check("ch03-tpr-unprivileged", tp / (tp + fn), **split)


def test_tpr_typical_mistakes_fail_with_their_hint(split, capsys):
    t, p, a = split["y_true"], split["y_pred"], split["protected"]
    rates = group_rates(t, p, a)
    wrong = {
        "wrong positive class": (
            1 - rates.loc[0, "false_positive_rate"],
            "positive class",
        ),
        "groups swapped": (rates.loc[1, "true_positive_rate"], "other group"),
        "precision": (rates.loc[0, "precision"], "precision"),
    }
    for answer, words in wrong.values():
        assert not check("ch03-tpr-unprivileged", answer, **split)
        assert words in capsys.readouterr().out
    assert not check("ch03-tpr-unprivileged", rates.loc[0, "accuracy"], **split)


def test_disparate_impact_reference_answer_agrees_with_the_library_and_passes(split):
    di = group_metrics(split["y_true"], split["y_pred"], split["protected"])[
        "disparate_impact"
    ]
    assert expected_answer("ch03-disparate-impact", **split) == pytest.approx(di)
    assert check("ch03-disparate-impact", di, **split)


def test_disparate_impact_typical_mistakes_fail_with_their_hint(split, capsys):
    m = group_metrics(split["y_true"], split["y_pred"], split["protected"])
    p, a = split["y_pred"], split["protected"]
    not_selected = (1 - p[a == 0].mean()) / (1 - p[a == 1].mean())
    wrong = [
        (1 / m["disparate_impact"], "swapped"),
        (not_selected, "not* selected"),
        (m["statistical_parity_difference"], "statistical parity difference"),
    ]
    for answer, words in wrong:
        assert not check("ch03-disparate-impact", answer, **split)
        assert words in capsys.readouterr().out
