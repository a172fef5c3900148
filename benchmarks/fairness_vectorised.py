"""Side-by-side timing of the vectorised fairness helpers against plain Python loops.

Run: .venv/bin/python benchmarks/fairness_vectorised.py
Prints the ratio loop time / vectorised time for threshold_sweep (one group_metrics call
per threshold) and bootstrap_group_metrics (one group_metrics call per resample), after
checking that both give the same numbers.
"""

import time

import numpy as np

from trustworthy_lib.fairness import METRIC_NAMES, bootstrap_group_metrics, group_metrics, threshold_sweep


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    rng = np.random.default_rng(0)
    n = 3000
    protected = (rng.random(n) < 0.8).astype(int)
    y = (rng.random(n) < 0.2).astype(int)
    scores = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    thresholds = np.linspace(0.01, 0.99, 99)

    t_vec, sweep = best_of(lambda: threshold_sweep(scores, y, protected, thresholds))
    t_loop, loop = best_of(lambda: [group_metrics(y, (scores > t).astype(int), protected, undefined="nan")
                                    for t in thresholds])
    gap = max(np.nanmax(np.abs(sweep[k].to_numpy() - np.array([r[k] for r in loop]))) for k in METRIC_NAMES)
    print(f"threshold_sweep, n={n}, {len(thresholds)} thresholds: vectorised {t_vec * 1e3:.1f} ms, "
          f"loop {t_loop * 1e3:.1f} ms, ratio {t_loop / t_vec:.1f}x, max |difference| {gap:.1e}")

    pred = (scores > 0.3).astype(int)
    n_boot = 500
    t_vec, (_, reps) = best_of(lambda: bootstrap_group_metrics(y, {"m": pred}, protected, n_boot=n_boot,
                                                               seed=1, return_replicates=True))
    idx = np.random.default_rng(1).integers(0, n, size=(n_boot, n))
    t_loop, loop = best_of(lambda: [group_metrics(y[i], pred[i], protected[i], undefined="nan") for i in idx])
    gap = np.nanmax(np.abs(reps["m"] - np.array([[r[k] for k in METRIC_NAMES] for r in loop])))
    print(f"bootstrap_group_metrics, n={n}, {n_boot} resamples: vectorised {t_vec * 1e3:.1f} ms, "
          f"loop {t_loop * 1e3:.1f} ms, ratio {t_loop / t_vec:.1f}x, max |difference| {gap:.1e}")


if __name__ == "__main__":
    main()
