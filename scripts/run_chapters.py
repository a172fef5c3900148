"""Find the book's chapters, execute one from a fresh kernel, and run many side by side.

Shared by ``tests/test_chapters.py`` (every chapter with the default seed),
``scripts/check_claims.py`` (every chapter with other seeds) and
``scripts/build_book.py`` (the site build), so all of them find the chapters the same
way. :func:`execute_chapter` reads a chapter with jupytext and executes it with nbclient
in the chapter's own folder; any cell error fails.

Several chapters can run at once (:func:`run_units`, ``--jobs`` of the build and of
``check_claims``): most chapters spend much of their time in single-threaded Python
(kernel start, imports, small networks), so two kernels on two cores take little more
than the longer of the two. Chapters that share a cached model
(:data:`SHARED_MODEL_CHAINS`) stay in one worker, in order, so the model is trained
once.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import TypeVar

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files(root: Path = ROOT) -> list[Path]:
    """Every page listed in _toc.yml, in order, as paths."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    paths = []
    for f in files:
        matches = [root / f"{f}{ext}" for ext in (".md", ".ipynb")]
        matches = [m for m in matches if m.is_file()]
        assert matches, f"_toc.yml lists {f}, but no {f}.md or {f}.ipynb exists"
        paths.append(matches[0])
    return paths


def chapter_files(root: Path = ROOT) -> list[Path]:
    """The chapters (pages in ``chapters/``), in the order of the table of contents."""
    return [p for p in toc_files(root) if p.parent.name == "chapters"]


def execute_chapter(
    path: Path,
    *,
    seed: int | None = None,
    cache: Path | None = None,
    timeout: int = 900,
) -> float:
    """Execute the page at ``path`` in a fresh kernel; return its wall time in seconds.

    ``seed`` sets ``TRUSTWORTHY_SEED`` and ``cache`` sets ``TRUSTWORTHY_CACHE`` for the
    kernel only (``None`` keeps the environment's value). A cell error raises
    ``nbclient.exceptions.CellExecutionError`` with the cell and its traceback.
    """
    import jupytext
    import nbclient

    env = dict(os.environ)
    if seed is not None:
        env["TRUSTWORTHY_SEED"] = str(seed)
    if cache is not None:
        env["TRUSTWORTHY_CACHE"] = str(cache)
    nb = jupytext.read(path)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
        allow_errors=False,
    )
    start = time.perf_counter()
    client.execute(env=env)
    return time.perf_counter() - start


#: Chapters that load the same model from the workbook's cache, in the order they run:
#: the first trains it, the others load it. Run side by side, each would train it again
#: (correctly, as the cache writes atomically, but twice), so :func:`execution_units`
#: keeps a chain in one worker.
SHARED_MODEL_CHAINS: tuple[tuple[str, ...], ...] = (
    ("08b-uncertainty-classification", "08c-conformal-prediction"),
    ("11-ood-energy", "12-ood-distance", "13-model-release"),
)

_BUDGET_LINE = re.compile(r"\*\*Runtime budget\b(.*?)(?:\n\s*\n|$)", re.S)
_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*(minutes?|s)\b")


def budget_seconds(path: Path) -> float:
    """The cold runtime budget that the chapter at ``path`` states, in seconds.

    Every chapter opens with a paragraph ``**Runtime budget:** under 150 s cold ...``;
    the first duration in it (``N s`` or ``N minutes``) is the budget. Raises
    ``ValueError`` when the chapter states none.
    """
    text = Path(path).read_text(encoding="utf-8")
    paragraph = _BUDGET_LINE.search(text)
    duration = _SECONDS.search(paragraph.group(1)) if paragraph else None
    if duration is None:
        raise ValueError(
            f"{path} states no runtime budget: every chapter opens with a paragraph "
            "'**Runtime budget:** under N s ...', as the other chapters do"
        )
    value = float(duration.group(1))
    return value * 60 if duration.group(2).startswith("minute") else value


def execution_units(
    paths: Iterable[Path],
    chains: Iterable[Iterable[str]] = SHARED_MODEL_CHAINS,
) -> list[list[Path]]:
    """Group chapters into units that one worker runs in order; longest first.

    The chapters of each chain that are among ``paths`` form one unit, in the chain's
    order; every other chapter is a unit of its own. Units are sorted by their summed
    :func:`budget_seconds`, longest first (then by name), so that the long ones start
    early and the short ones fill the gaps at the end: the longest-processing-time rule
    for scheduling on several workers. A page that states no budget counts as 0 s (the
    order is all it changes; ``tests/test_run_chapters.py`` checks that every chapter
    states one).
    """
    paths = list(paths)
    by_stem = {p.stem: p for p in paths}
    if len(by_stem) != len(paths):
        raise ValueError("two of the chapters to run have the same file name")
    units, placed = [], set()
    for chain in chains:
        unit = [by_stem[stem] for stem in chain if stem in by_stem]
        if unit:
            units.append(unit)
            placed.update(p.stem for p in unit)
    units += [[p] for p in paths if p.stem not in placed]
    return sorted(units, key=lambda u: (-sum(map(_cost, u)), u[0].stem))


def _cost(path: Path) -> float:
    try:
        return budget_seconds(path)
    except ValueError:
        return 0.0


T = TypeVar("T")
R = TypeVar("R")


def _run_unit(fn: Callable[[T], R], unit: list[T]) -> list[R]:
    return [fn(task) for task in unit]


THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def _share_cores(threads: int) -> None:
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))


def run_units(units: list[list[T]], fn: Callable[[T], R], jobs: int = 1) -> Iterator[R]:
    """Call ``fn(task)`` for every task; yield the results unit by unit.

    The tasks of one unit run in order in one worker; up to ``jobs`` units run at once,
    each in its own process (``fn`` must be a module-level function, and should catch
    its own errors: one that escapes stops the run). Units are started in the order
    given and results come back as units finish. ``jobs=1`` runs everything here, in
    order.

    With several jobs, each worker (and every kernel it starts) gets an equal share of
    the cores for its numerical libraries (``OMP_NUM_THREADS`` and its kin, unless
    already set): two kernels that each start one thread per core contend so badly
    that they take longer together than one after the other.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    if jobs == 1:
        for unit in units:
            yield from _run_unit(fn, unit)
        return
    spawn = multiprocessing.get_context("spawn")  # no forked copy of the caller's state
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=spawn,
        initializer=_share_cores,
        initargs=(threads,),
    ) as pool:
        futures = [pool.submit(_run_unit, fn, unit) for unit in units]
        for future in as_completed(futures):
            yield from future.result()


def default_jobs() -> int:
    """Chapters to run at once: ``BOOK_JOBS`` if set, else 2 (1 on a 1-core machine).

    Two suits the 2-core laptop that the chapters' budgets are written for; more
    kernels than cores slow each chapter's numerical work without finishing sooner.
    """
    raw = os.environ.get("BOOK_JOBS", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"BOOK_JOBS must be a positive integer, got {raw!r}")
        return int(raw)
    return max(1, min(2, os.cpu_count() or 1))
