"""Benchmark: coverage of split conformal (LAC) over many random splits, two ways.

Run it from the repository root:

    .venv/bin/python benchmarks/conformal_splits.py [--splits 500] [--n 2400]

On a synthetic pool of ``--n`` points with 4-class probabilities (labels drawn from the
probabilities, like a calibrated classifier), it computes the test coverage of
``--splits`` random calibration/test splits:

1. ``trustworthy_lib.conformal.coverage_over_splits``: one (splits, N) argsort, one sort
   of the calibration block, one comparison; no Python loop over splits or samples;
2. a loop over the same splits that calls MAPIE 1.6's ``SplitConformalClassifier``
   (``prefit``, ``conformalize`` on the calibration part, ``predict_set`` on the test
   part) and measures the coverage of its sets.

Both use the permutations of ``split_permutations``, so their coverages must be
identical, split by split. It prints both times and their ratio (target: at least
10x) and exits non-zero if any coverage differs.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from mapie.classification import SplitConformalClassifier as MapieClassifier

from trustworthy_lib.conformal import (
    PrefitProbabilities,
    classification_scores,
    coverage_over_splits,
    split_permutations,
)


def synthetic_pool(n: int, n_classes: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    z = 2.0 * rng.normal(size=(n, n_classes))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (p.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1).clip(max=n_classes - 1)
    return p, y


def mapie_loop(p, y, perms, n_cal, alpha):
    est = PrefitProbabilities(n_classes=p.shape[1])
    out = np.empty(len(perms))
    for i, perm in enumerate(perms):
        cal, test = perm[:n_cal], perm[n_cal:]
        mapie = MapieClassifier(
            estimator=est,
            confidence_level=1 - alpha,
            conformity_score="lac",
            prefit=True,
        ).conformalize(p[cal], y[cal])
        sets = mapie.predict_set(p[test])[1][:, :, 0]
        out[i] = sets[np.arange(len(test)), y[test]].mean()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=500)
    parser.add_argument("--n", type=int, default=2400)
    parser.add_argument("--n-cal", type=int, default=400)
    parser.add_argument("--alpha", type=float, default=0.1)
    args = parser.parse_args()

    p, y = synthetic_pool(args.n)
    true_scores = classification_scores(p, "lac")[np.arange(len(y)), y]

    start = time.perf_counter()
    ours = coverage_over_splits(true_scores, args.n_cal, args.alpha, args.splits)
    t_ours = time.perf_counter() - start

    perms = split_permutations(len(y), args.splits, seed=0)
    start = time.perf_counter()
    theirs = mapie_loop(p, y, perms, args.n_cal, args.alpha)
    t_mapie = time.perf_counter() - start

    print(f"pool {args.n} points, {args.n_cal} for calibration, {args.splits} splits")
    print(f"vectorised (trustworthy_lib): {t_ours:8.3f} s")
    print(f"per-split MAPIE loop:         {t_mapie:8.3f} s")
    print(f"speed-up: {t_mapie / t_ours:.0f}x (target >= 10x)")
    print(f"mean coverage {ours.mean():.4f}, sd {ours.std():.4f}")
    mismatch = np.flatnonzero(ours != theirs)
    if mismatch.size:
        i = mismatch[0]
        print(
            f"MISMATCH in {mismatch.size} split(s); first: split {i}, "
            f"ours {ours[i]:.6f}, MAPIE {theirs[i]:.6f}",
            file=sys.stderr,
        )
        return 1
    print("coverages identical to MAPIE's in every split")
    return 0


if __name__ == "__main__":
    sys.exit(main())
