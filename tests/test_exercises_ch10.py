"""Chapter 10's exercise: the reference answer passes, typical wrong answers fail."""

import numpy as np
import pytest

from trustworthy_lib.exercises import check
from trustworthy_lib.ood_evaluation import fpr_at_tpr, threshold_at_tpr


@pytest.fixture
def scores():
    rng = np.random.default_rng(3)
    return rng.normal(size=400), rng.normal(1.5, 1.0, size=300)


def test_reference_threshold_passes_and_keeps_95_percent(scores, capsys):
    id_s, ood_s = scores
    answer = np.quantile(id_s, 0.95, method="inverted_cdf")
    assert check("threshold-keep-95-id", answer, id_scores=id_s, ood_scores=ood_s)
    assert answer == threshold_at_tpr(id_s, 0.95)
    assert np.mean(id_s <= answer) == 0.95  # 380 of 400
    # the OOD share accepted at it is the library's FPR95
    assert np.mean(ood_s <= answer) == fpr_at_tpr(id_s, ood_s, 0.95)
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, word",
    [
        (lambda i, o: np.quantile(o, 0.95, method="inverted_cdf"), "OOD scores"),
        (lambda i, o: np.quantile(np.r_[i, o], 0.95, method="inverted_cdf"), "mixes"),
        (lambda i, o: np.quantile(o, 0.05, method="inverted_cdf"), "positive class"),
        (lambda i, o: np.quantile(i, 0.05, method="inverted_cdf"), "below"),
        (lambda i, o: np.quantile(i, 0.95), "interpolates"),
        (lambda i, o: np.quantile(i, 0.90, method="inverted_cdf"), "ID scores only"),
    ],
)
def test_typical_mistakes_fail_with_their_hint(scores, capsys, wrong, word):
    id_s, ood_s = scores
    assert not check(
        "threshold-keep-95-id", wrong(id_s, ood_s), id_scores=id_s, ood_scores=ood_s
    )
    assert word in capsys.readouterr().out
