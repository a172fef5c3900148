"""Benchmark: every layer from one forward pass against the lesson's one pass per layer.

Run it from the repository root:

    .venv/bin/python benchmarks/probe_layers.py \\
        [--n 1000] [--batch-size 32] [--repeats 3]

On ``--n`` Rotten Tomatoes reviews from ``data/`` and the offline MiniLM-L6 (6 layers
plus the embedding layer), it times, side by side in one process:

1. ``layer_embeddings``: one forward pass per batch with ``output_hidden_states=True``,
   all 7 hidden states mean-pooled at once;
2. the lesson's way, ``single_layer_embeddings`` called once per layer: 7 full passes.

The two results must be identical (``np.array_equal``), else it exits non-zero. It
prints the ratio of the times; it should be about the number of hidden states (7), and
the target is at least 5x. Each timing is the median of ``--repeats`` runs, the two
contenders interleaved so that a change in machine load hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from trustworthy_lib.data import load_movie_reviews
from trustworthy_lib.pretrained import load_minilm
from trustworthy_lib.probes import layer_embeddings, single_layer_embeddings

TARGET = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=1000, help="number of reviews (default 1000)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model, tokenizer = load_minilm(device="cpu")
    texts = load_movie_reviews().sample(args.n, random_state=0)["text"].tolist()
    n_states = model.config.num_hidden_layers + 1
    print(
        f"MiniLM-L6 on {len(texts)} reviews, batch size {args.batch_size}, {n_states} "
        f"hidden states, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )

    def one_pass():
        return layer_embeddings(
            model, tokenizer, texts, batch_size=args.batch_size, progress=False
        )

    def per_layer():
        return np.stack(
            [
                single_layer_embeddings(
                    model,
                    tokenizer,
                    texts,
                    layer,
                    batch_size=args.batch_size,
                    progress=False,
                )
                for layer in range(n_states)
            ]
        )

    times = {"one pass (trustworthy_lib)": [], "one pass per layer (lesson)": []}
    results = {}
    for _ in range(args.repeats):
        for name, fn in (
            ("one pass (trustworthy_lib)", one_pass),
            ("one pass per layer (lesson)", per_layer),
        ):
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)

    fast, slow = (
        results["one pass (trustworthy_lib)"],
        results["one pass per layer (lesson)"],
    )
    identical = fast.shape == slow.shape and np.array_equal(fast, slow)
    t_fast = statistics.median(times["one pass (trustworthy_lib)"])
    t_slow = statistics.median(times["one pass per layer (lesson)"])
    ratio = t_slow / t_fast
    print(f"embeddings shape {fast.shape}; identical: {identical}")
    for name, ts in times.items():
        print(
            f"  {name:<30} median {statistics.median(ts):7.2f} s  (runs: "
            f"{', '.join(f'{t:.2f}' for t in ts)})"
        )
    print(
        f"ratio (per layer / one pass): {ratio:.1f}x  (about {n_states} expected; "
        f"target >= {TARGET:g}x: {'met' if ratio >= TARGET else 'NOT met'})"
    )
    if not identical:
        print(
            "ERROR: the one-pass embeddings differ from the per-layer ones",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
