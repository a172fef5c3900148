"""Tests of scripts/chapter_runtimes.py (the instructor notes' schedule)."""

import pytest


def _book(tmp_path):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    front = "---\njupytext:\n  text_representation:\n    extension: .md\n---\n\n"
    (chapters / "01-a.md").write_text(front + "# First chapter\n\n## A section\n")
    (chapters / "02-b.md").write_text(front + "# Second chapter\n")
    return chapters


def test_chapter_runtimes_reads_pytest_times_and_reports_missing(tmp_path):
    import math

    from scripts.chapter_runtimes import chapter_runtimes

    _book(tmp_path)
    (tmp_path / "_build").mkdir()
    (tmp_path / "_build" / "chapter_times.txt").write_text(
        "01-a\t3.5\nbroken line\n01-a\t4.25\nzz\tNaN?\n"
    )
    table = chapter_runtimes(tmp_path)
    assert table["chapter"].tolist() == ["01-a", "02-b"]
    assert table["title"].tolist() == ["First chapter", "Second chapter"]
    assert table["test_s"].iloc[0] == 4.25  # the last run wins
    assert math.isnan(table["test_s"].iloc[1])  # never run: not measured
    assert table["build_s"].isna().all()  # no jupyter cache: not measured
    assert not (tmp_path / "_build" / ".jupyter_cache").exists()  # and none was created


def test_chapter_runtimes_reads_jupyter_cache_records(tmp_path):
    import jupytext
    import nbformat
    from jupyter_cache import get_cache

    from scripts.chapter_runtimes import chapter_runtimes

    chapters = _book(tmp_path)
    cache = get_cache(str(tmp_path / "_build" / ".jupyter_cache"))
    nb = jupytext.read(chapters / "01-a.md")
    nb.cells = [nbformat.v4.new_code_cell("1 + 1", execution_count=1)]
    ipynb = tmp_path / "01-a.ipynb"
    nbformat.write(nb, ipynb)
    cache.cache_notebook_file(
        str(ipynb),
        uri=str(chapters / "01-a.md"),
        data={"execution_seconds": 12.5},
        check_validity=False,
    )
    table = chapter_runtimes(tmp_path).set_index("chapter")
    assert table.loc["01-a", "build_s"] == 12.5
    assert pd_isna(table.loc["02-b", "build_s"])


def pd_isna(value):
    import pandas as pd

    return bool(pd.isna(value))


def test_chapter_runtimes_needs_chapters(tmp_path):
    from scripts.chapter_runtimes import chapter_runtimes

    with pytest.raises(ValueError, match="no chapters/\\*.md files"):
        chapter_runtimes(tmp_path)


def _brute_force(minutes, limit):
    """(days, longest day) of the best order-preserving split, by trying every split."""
    import itertools

    n, best = len(minutes), None
    for cuts in itertools.product([False, True], repeat=n - 1):
        days, day = [], minutes[0][1]
        for cut, (_, m) in zip(cuts, minutes[1:], strict=True):
            if cut:
                days.append(day)
                day = m
            else:
                day += m
        days.append(day)
        if max(days) <= limit and (best is None or (len(days), max(days)) < best):
            best = (len(days), max(days))
    return best


def test_day_plan_known_answers():
    from scripts.chapter_runtimes import day_plan

    minutes = [("a", 30), ("b", 90), ("c", 60), ("d", 60), ("e", 60), ("f", 30)]
    assert day_plan(minutes, 360) == [["a", "b", "c", "d", "e", "f"]]  # 330 min
    # the fewest days: a greedy fill would make three days (a b c | d | e)
    assert day_plan([("a", 50), ("b", 50), ("c", 50), ("d", 150), ("e", 40)], 200) == [
        ["a", "b", "c"],
        ["d", "e"],
    ]
    # even, not front-loaded: 4 x 90 in days of 270 -> 2 + 2, not 3 + 1
    assert day_plan([(c, 90) for c in "abcd"], 270) == [["a", "b"], ["c", "d"]]
    with pytest.raises(ValueError, match="longer than a day"):
        day_plan([("long", 400)], 360)


def test_day_plan_agrees_with_trying_every_split():
    import random

    from scripts.chapter_runtimes import day_plan

    rng = random.Random(0)
    for _ in range(200):
        minutes = [(f"c{i}", rng.randint(10, 120)) for i in range(rng.randint(1, 9))]
        limit = rng.randint(120, 400)
        plan = day_plan(minutes, limit)
        assert [name for day in plan for name in day] == [n for n, _ in minutes]
        sizes = [sum(dict(minutes)[n] for n in day) for day in plan]
        assert (len(plan), max(sizes)) == _brute_force(minutes, limit)
