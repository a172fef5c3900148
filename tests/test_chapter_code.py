"""The chapters' code cells follow the teaching-cell conventions (CONVENTIONS.md).

* every code line is at most 88 characters (the column of the site);
* every code cell is at most 30 lines (one idea per cell);
* no teaching cell calls ``glue`` or imports ``myst_nb``: glue lives in cells tagged
  ``remove-cell`` that hold nothing else.

Each test lists every offender (chapter, cell, line), so one run shows all the work.
Ruff's lint and format checks of the same code run in ``make test`` through
``scripts/ruff_chapters.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
MAX_LINE = 88
MAX_CELL_LINES = 30


def code_cells(path: Path):
    """(index among code cells, tags, source) of every code cell of a chapter."""
    cells = [c for c in jupytext.read(path).cells if c.cell_type == "code"]
    return [(i, c.metadata.get("tags", []), c.source) for i, c in enumerate(cells, 1)]


def long_lines(path: Path) -> list[str]:
    return [
        f"{path.name}, code cell {i}, line {n}: {len(line)} characters"
        for i, _, source in code_cells(path)
        for n, line in enumerate(source.splitlines(), 1)
        if len(line) > MAX_LINE
    ]


def long_cells(path: Path) -> list[str]:
    return [
        f"{path.name}, code cell {i}: {len(source.splitlines())} lines"
        for i, _, source in code_cells(path)
        if len(source.splitlines()) > MAX_CELL_LINES
    ]


def glue_in_teaching_cells(path: Path) -> list[str]:
    return [
        f"{path.name}, code cell {i}: calls glue or imports myst_nb"
        for i, tags, source in code_cells(path)
        if "remove-cell" not in tags and re.search(r"\bglue\s*\(|myst_nb", source)
    ]


def _fail_listing(offenders: list[str], what: str) -> None:
    if offenders:
        pytest.fail(f"{len(offenders)} {what}:\n" + "\n".join(offenders), pytrace=False)


def test_the_checks_find_offenders(tmp_path):
    """Known answers on a tiny chapter: each check finds just the planted offender."""
    long = "x = " + "1 + " * 30 + "1"
    body = "\n".join(f"y{i} = {i}" for i in range(31))
    page = tmp_path / "99-planted.md"
    page.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n"
        "    format_name: myst\n    format_version: 0.13\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# T\n\n"
        f"```{{code-cell}} ipython3\n{long}\n```\n\n"
        f"```{{code-cell}} ipython3\n{body}\n```\n\n"
        "```{code-cell} ipython3\nglue('a', 1)\n```\n\n"
        "```{code-cell} ipython3\n:tags: [remove-cell]\nglue('b', 2)\n```\n"
    )
    assert long_lines(page) == [
        f"99-planted.md, code cell 1, line 1: {len(long)} characters"
    ]
    assert long_cells(page) == ["99-planted.md, code cell 2: 31 lines"]
    assert glue_in_teaching_cells(page) == [
        "99-planted.md, code cell 3: calls glue or imports myst_nb"
    ]


def test_code_lines_are_at_most_88_characters():
    _fail_listing([o for p in CHAPTERS for o in long_lines(p)], "code lines over 88")


def test_code_cells_are_at_most_30_lines():
    _fail_listing(
        [o for p in CHAPTERS for o in long_cells(p)], "code cells over 30 lines"
    )


def test_no_teaching_cell_calls_glue():
    offenders = [o for p in CHAPTERS for o in glue_in_teaching_cells(p)]
    _fail_listing(offenders, "teaching cells with glue (move it to a remove-cell cell)")
