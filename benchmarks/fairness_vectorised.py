"""Side-by-side timing of the vectorised fairness helpers against plain Python loops.

Run: .venv/bin/python benchmarks/fairness_vectorised.py
Prints the ratio loop time / vectorised time for group_metrics_by_threshold (one
group_metrics call per threshold) and bootstrap_group_metrics (one group_metrics call
per resample), after checking that both give the same numbers. Exits with status 1 if
they do not (a NaN on one side and a number on the other counts as a mismatch).
"""

import sys
import time

import numpy as np

from trustworthy_lib.fairness import (
    ALL_METRICS,
    METRIC_NAMES,
    bootstrap_group_metrics,
    group_metrics,
    group_metrics_by_threshold,
)

TOLERANCE = 1e-12


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def mismatch(a, b) -> float:
    """Largest |a - b|; infinite where one holds NaN and the other a number."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or (np.isnan(a) != np.isnan(b)).any():
        return float("inf")
    both = ~np.isnan(a)
    return float(np.abs(a[both] - b[both]).max(initial=0.0))


def main() -> int:
    rng = np.random.default_rng(0)
    n = 3000
    protected = (rng.random(n) < 0.8).astype(int)
    y = (rng.random(n) < 0.2).astype(int)
    scores = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    thresholds = np.linspace(0.01, 0.99, 99)

    def loop_sweep():
        return [
            group_metrics(
                y,
                (scores > t).astype(int),
                protected,
                undefined="nan",
                metrics=ALL_METRICS,
            )
            for t in thresholds
        ]

    t_vec, sweep = best_of(
        lambda: group_metrics_by_threshold(scores, y, protected, thresholds)
    )
    t_loop, loop = best_of(loop_sweep)
    gap_sweep = max(
        mismatch(sweep[k].to_numpy(), [r[k] for r in loop]) for k in ALL_METRICS
    )
    print(
        f"group_metrics_by_threshold, n={n}, {len(thresholds)} thresholds: "
        f"vectorised {t_vec * 1e3:.1f} ms, loop {t_loop * 1e3:.1f} ms, "
        f"ratio {t_loop / t_vec:.1f}x, max |difference| {gap_sweep:.1e}"
    )

    pred = (scores > 0.3).astype(int)
    n_boot = 500
    t_vec, (_, reps) = best_of(
        lambda: bootstrap_group_metrics(
            y, {"m": pred}, protected, n_boot=n_boot, seed=1, return_replicates=True
        )
    )
    idx = np.random.default_rng(1).integers(0, n, size=(n_boot, n))
    t_loop, loop = best_of(
        lambda: [
            group_metrics(y[i], pred[i], protected[i], undefined="nan") for i in idx
        ]
    )
    gap_boot = mismatch(reps["m"], [[r[k] for k in METRIC_NAMES] for r in loop])
    print(
        f"bootstrap_group_metrics, n={n}, {n_boot} resamples: "
        f"vectorised {t_vec * 1e3:.1f} ms, loop {t_loop * 1e3:.1f} ms, "
        f"ratio {t_loop / t_vec:.1f}x, max |difference| {gap_boot:.1e}"
    )
    if max(gap_sweep, gap_boot) > TOLERANCE:
        print(
            f"MISMATCH: the vectorised and looped results differ by more than "
            f"{TOLERANCE:g}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
