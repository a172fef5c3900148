"""Execute every chapter with other seeds, so that each claim is tested on more than one
run.

Usage (``make check-claims`` runs it for seeds 1 and 2)::

    python -m scripts.check_claims [--seeds 1 2] [--chapters 00 09] [--cache DIR]
                                   [--jobs N]

Each chapter runs from a fresh kernel (``scripts/run_chapters.py``, as in
``tests/test_chapters.py``) with ``TRUSTWORTHY_SEED`` set to each seed and
``TRUSTWORTHY_CACHE`` pointing at a separate folder (``_cache_seeds/`` by default), so
the default build's models in ``_cache/`` are never touched. A chapter fails when any
cell raises, which includes the hidden cells that assert the chapter's claims.

Runs go two at a time (``--jobs``, or the environment variable ``BOOK_JOBS``), as in the
site build; chapters that share a cached model run in order in one worker.

Prints a table chapter x seed with pass/FAIL and seconds, writes it to
``_build/check_claims.tsv``, and exits with status 1 if any run failed.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from scripts.run_chapters import (
    ROOT,
    chapter_files,
    default_jobs,
    execute_chapter,
    execution_units,
    run_units,
)


def _reason(exc: BaseException) -> str:
    """The last line of a cell's traceback: the error type and the claim's message."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # tracebacks carry colour codes
    lines = [t for t in plain.strip().splitlines() if t.strip()]
    error = [t for t in lines if "Error" in t or "Exception" in t]
    return (error or lines or [type(exc).__name__])[-1].strip()[:200]


def _check_one(task: tuple[Path, int, Path]) -> dict:
    """Execute one chapter with one seed; a failed cell is a result, not an error."""
    path, seed, cache = task
    start = time.perf_counter()
    try:
        execute_chapter(path, seed=seed, cache=cache)
        ok, reason = True, ""
    except Exception as exc:  # noqa: BLE001 (a failed chapter is a result)
        ok, reason = False, _reason(exc)
    seconds = time.perf_counter() - start
    status = "pass" if ok else f"FAIL: {reason}"
    print(f"  {path.stem} seed {seed}: {status} ({seconds:.1f} s)", flush=True)
    return {"chapter": path.stem, "seed": seed, "ok": ok, "seconds": seconds,
            "reason": reason}  # fmt: skip


def check_claims(
    chapters: list[Path], seeds: list[int], cache: Path, jobs: int = 1
) -> list[dict]:
    """Run every chapter with every seed, ``jobs`` at a time; one record per run.

    The records are in the order of ``chapters``, then ``seeds``, however the runs were
    scheduled.
    """
    units = [
        [(path, seed, cache) for path in unit]
        for unit in execution_units(chapters)
        for seed in seeds
    ]
    records = list(run_units(units, _check_one, jobs))
    runs = [(path.stem, seed) for path in chapters for seed in seeds]
    return sorted(records, key=lambda r: runs.index((r["chapter"], r["seed"])))


def table(records: list[dict], seeds: list[int]) -> str:
    """Chapter x seed, each cell 'pass 12.3 s' or 'FAIL 4.5 s'."""
    chapters = list(dict.fromkeys(r["chapter"] for r in records))
    width = max([len(c) for c in chapters] + [7])
    head = f"{'chapter':<{width}}" + "".join(f"  {'seed ' + str(s):>12}" for s in seeds)
    rows = [head, "-" * len(head)]
    for chapter in chapters:
        cells = []
        for seed in seeds:
            run = next(
                r for r in records if r["chapter"] == chapter and r["seed"] == seed
            )
            cells.append(f"{'pass' if run['ok'] else 'FAIL'} {run['seconds']:5.1f} s")
        rows.append(f"{chapter:<{width}}" + "".join(f"  {c:>12}" for c in cells))
    total = sum(r["seconds"] for r in records)
    failed = sum(not r["ok"] for r in records)
    rows.append(f"{len(records)} runs, {failed} failed, {total:.0f} s in all")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--chapters", nargs="+", metavar="PREFIX",
        help="only chapters whose file name starts with one of these (e.g. 00 08b)",
    )  # fmt: skip
    parser.add_argument("--cache", type=Path, default=ROOT / "_cache_seeds")
    parser.add_argument(
        "--jobs", type=int, default=None,
        help="runs at once (default: BOOK_JOBS, else 2)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        parser.error("--jobs must be at least 1")
    if any(s < 0 for s in args.seeds):
        parser.error("seeds must be non-negative integers (TRUSTWORTHY_SEED)")
    chapters = chapter_files(ROOT)
    if args.chapters:
        chapters = [p for p in chapters if p.stem.startswith(tuple(args.chapters))]
        if not chapters:
            parser.error(f"no chapter file name starts with any of {args.chapters}")
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"Executing {len(chapters)} chapter(s) with seeds {args.seeds}, {jobs} at a "
          f"time; models cached in {args.cache}")  # fmt: skip
    records = check_claims(chapters, args.seeds, args.cache.resolve(), jobs)
    text = table(records, args.seeds)
    print("\n" + text)
    out = ROOT / "_build" / "check_claims.tsv"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        "chapter\tseed\tresult\tseconds\treason\n"
        + "".join(
            f"{r['chapter']}\t{r['seed']}\t{'pass' if r['ok'] else 'FAIL'}\t"
            f"{r['seconds']:.1f}\t{r['reason']}\n"
            for r in records
        )
    )
    failed = [r for r in records if not r["ok"]]
    for r in failed:
        print(f"FAILED {r['chapter']} with TRUSTWORTHY_SEED={r['seed']}: {r['reason']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
