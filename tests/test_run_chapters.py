"""Tests of the chapter scheduling in scripts/run_chapters.py and of the build's
pre-execution in scripts/build_book.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from scripts.run_chapters import (
    SHARED_MODEL_CHAINS,
    budget_seconds,
    chapter_files,
    default_jobs,
    execution_units,
    run_units,
)

ROOT = Path(__file__).resolve().parents[1]


def _budget(budget: str | None) -> str:
    return f"**Runtime budget:** {budget}\n\n" if budget else ""


@pytest.mark.parametrize(
    "sentence, seconds",
    [
        ("under 150 s cold on a 2-core laptop CPU (every network...)", 150.0),
        ("under 4 minutes cold on a 2-core laptop CPU", 240.0),
        ("at most 1 minute", 60.0),
        ("on a 2-core laptop CPU: at most 120 s cold (empty model cache)", 120.0),
    ],
)
def test_budget_seconds_reads_the_first_duration(myst_page, sentence, seconds):
    assert budget_seconds(myst_page("a.md", prose=_budget(sentence))) == seconds


def test_a_page_without_a_budget_is_an_error(myst_page):
    with pytest.raises(ValueError, match="states no runtime budget"):
        budget_seconds(myst_page("a.md", prose=_budget(None)))


def test_every_chapter_states_a_budget_and_every_chain_names_chapters():
    chapters = {p.stem: p for p in chapter_files(ROOT)}
    for path in chapters.values():
        assert 0 < budget_seconds(path) <= 600, path.stem
    for chain in SHARED_MODEL_CHAINS:
        assert set(chain) <= set(chapters), chain


def test_chapters_that_load_the_shared_cnn_are_chained():
    """A chapter that calls workbook_cnn may share its model: it must be placed in a
    chain, after the chapter that trains it, or the parallel build trains it twice."""
    chained = {stem for chain in SHARED_MODEL_CHAINS for stem in chain}
    callers = {
        p.stem
        for p in chapter_files(ROOT)
        if re.search(r"\bworkbook_cnn\(", p.read_text(encoding="utf-8"))
    }
    assert callers and callers <= chained, callers - chained


def test_units_keep_chains_in_order_and_put_the_longest_first(tmp_path, myst_page):
    a = myst_page("a.md", prose=_budget("under 10 s"))
    b = myst_page("b.md", prose=_budget("under 30 s"))
    c = myst_page("c.md", prose=_budget("under 25 s"))
    d = myst_page("d.md", prose=_budget("under 20 s"))
    e = myst_page("e.md", prose=_budget(None))  # no budget: counts as 0 s, runs last
    chains = [("c", "a"), ("zz", "d")]  # a chain member not asked for is left out
    units = execution_units([a, b, c, d, e], chains)
    assert units == [[c, a], [b], [d], [e]]  # 35, 30, 20, 0 seconds
    assert execution_units([a], chains) == [[a]]
    with pytest.raises(ValueError, match="same file name"):
        execution_units([a, tmp_path / "x" / "a.md"], chains)


def _meet(task: tuple[str, str, str]) -> tuple[str, bool]:
    """Leave a mark, then wait up to 20 s for the partner's: both succeed only if the
    two tasks run at the same time."""
    name, partner, folder = task
    (Path(folder) / name).touch()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if (Path(folder) / partner).exists():
            return name, True
        time.sleep(0.05)
    return name, False


def _log(task: tuple[str, str]) -> str:
    name, log = task
    with open(log, "a") as f:
        f.write(name + "\n")
    return name


def _threads(task: str) -> str | None:
    import os

    return os.environ.get("OMP_NUM_THREADS")


def test_each_of_two_workers_gets_half_the_cores(monkeypatch):
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    half = str(max(1, (os.cpu_count() or 1) // 2))
    assert list(run_units([["a"], ["b"]], _threads, jobs=2)) == [half, half]
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # a setting of the user's is kept
    assert list(run_units([["a"]], _threads, jobs=2)) == ["3"]


def test_default_jobs_reads_book_jobs(monkeypatch):
    monkeypatch.setenv("BOOK_JOBS", "3")
    assert default_jobs() == 3
    monkeypatch.setenv("BOOK_JOBS", "0")
    with pytest.raises(ValueError, match="positive integer"):
        default_jobs()
    monkeypatch.delenv("BOOK_JOBS")
    assert 1 <= default_jobs() <= 2


def test_two_jobs_run_two_units_at_once(tmp_path):
    units = [[("a", "b", str(tmp_path))], [("b", "a", str(tmp_path))]]
    assert sorted(run_units(units, _meet, jobs=2)) == [("a", True), ("b", True)]


def test_a_unit_runs_in_order_and_every_task_returns(tmp_path):
    log = str(tmp_path / "log.txt")
    units = [[(n, log) for n in "xyz"], [("p", log)], [("q", log)]]
    assert sorted(run_units(units, _log, jobs=2)) == ["p", "q", "x", "y", "z"]
    order = Path(log).read_text().split()
    assert [n for n in order if n in "xyz"] == ["x", "y", "z"]
    assert list(run_units(units, _log, jobs=1)) == ["x", "y", "z", "p", "q"]
    with pytest.raises(ValueError, match="at least 1"):
        list(run_units(units, _log, jobs=0))


def test_a_chapter_executed_by_the_build_is_cached_until_its_code_changes(
    tmp_path, myst_page
):
    """A chapter executed by the build's worker is found by the lookup that myst-nb's
    cache mode makes (``match_cache_notebook``) on the notebook read as myst-nb reads
    it, and a change to its code makes it stale again. (That Jupyter Book itself finds
    it is checked by every build: ``build_book.py`` fails if Jupyter Book executes a
    chapter again.)"""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    from scripts.build_book import (
        MYST_NB_READER,
        execute_for_cache,
        read_book_notebook,
        stale_chapters,
    )

    page = myst_page(
        "01-tiny.md", "import os\nprint(os.getcwd())", prose=_budget("under 5 s")
    )
    cache = get_cache(tmp_path / "jcache")
    assert stale_chapters(cache, [page]) == [page]
    run = execute_for_cache(page)
    assert run["error"] is None and run["seconds"] > 0
    assert run["notebook"].cells[-1].outputs[0]["text"].strip() == str(tmp_path)
    record = cache.add_nb_to_project(str(page), read_data=MYST_NB_READER)
    cache.cache_notebook_bundle(
        CacheBundleIn(run["notebook"], record.uri, data={"execution_seconds": 1.0}),
        check_validity=False,
        overwrite=True,
    )
    assert stale_chapters(cache, [page]) == []
    assert cache.match_cache_notebook(read_book_notebook(page)).uri == str(page)
    page.write_text(page.read_text().replace("print(os.getcwd())", "print(1)"))
    assert stale_chapters(cache, [page]) == [page]


def test_a_failing_cell_is_reported_not_cached(myst_page):
    from scripts.build_book import execute_for_cache

    page = myst_page(
        "02-bad.md", "raise ValueError('the claim')", prose=_budget("under 5 s")
    )
    run = execute_for_cache(page)
    assert run["notebook"] is None
    assert "ValueError" in run["error"] and "the claim" in run["error"]


def test_a_chapter_that_jupyter_book_executed_again_is_named():
    from scripts.build_book import executed_again

    before = {"/b/chapters/01-a.md": 1, "/b/chapters/02-b.md": 2}
    assert executed_again(before, dict(before)) == []
    after = {**before, "/b/chapters/02-b.md": 5, "/b/chapters/03-c.md": 6}
    assert executed_again(before, after) == ["02-b", "03-c"]
