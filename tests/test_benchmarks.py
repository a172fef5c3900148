"""The benchmarks check their own answers: a mismatch makes them exit non-zero."""

import importlib.util
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "benchmarks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mismatch_counts_nan_against_a_number():
    bench = _load("fairness_vectorised")
    assert bench.mismatch([1.0, np.nan], [1.0, np.nan]) == 0.0
    assert bench.mismatch([1.0, 2.0], [1.0, 2.5]) == 0.5
    assert bench.mismatch([1.0, np.nan], [1.0, 0.0]) == float("inf")


def test_fairness_benchmark_exits_non_zero_on_a_mismatch(monkeypatch, capsys):
    bench = _load("fairness_vectorised")
    assert bench.main() == 0
    real = bench.group_metrics_by_threshold

    def off_by_a_bit(*args, **kwargs):
        table = real(*args, **kwargs)
        table["theil_index"] += 1e-6
        return table

    monkeypatch.setattr(bench, "group_metrics_by_threshold", off_by_a_bit)
    assert bench.main() == 1
    assert "MISMATCH" in capsys.readouterr().err


def test_cnn_layout_benchmark_sees_a_different_network():
    import torch

    from trustworthy_lib.models import SmallCNN

    bench = _load("cnn_layout")
    torch.manual_seed(0)
    ours, lesson = SmallCNN(num_classes=4), bench.LessonCNN(4)
    x, y = torch.randn(8, 1, 28, 28) * 2, torch.randint(0, 4, (8,))
    assert bench.mismatch(ours, lesson, x, y) > 1e-3  # other weights: caught
    lesson.load_state_dict(ours.state_dict())
    assert bench.mismatch(ours, lesson, x, y) < 1e-4
