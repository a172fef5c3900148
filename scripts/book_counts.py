"""Count what the closing note of a release states, chapter by chapter.

Usage: ``python -m scripts.book_counts``

For every chapter: its challenges, discussions (``Discussion:`` boxes), self-check
exercises (registered in ``trustworthy_lib.exercises`` for that chapter), the longest
code cell (lines) and the longest code line (characters). Then the totals.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext

from scripts.run_chapters import ROOT, chapter_files

BOX = r"^:::+\{{admonition\}} {kind}"


def chapter_counts(path: Path, exercises: dict[str, int]) -> dict:
    """The counts for one chapter; ``exercises`` maps a chapter id to its exercises."""
    text = path.read_text(encoding="utf-8")
    code = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    lines = [line for source in code for line in source.splitlines()]
    chapter = path.stem.split("-")[0]
    return {
        "chapter": path.stem,
        "challenges": len(re.findall(BOX.format(kind="Challenge"), text, re.MULTILINE)),
        "discussions": len(
            re.findall(BOX.format(kind="Discussion"), text, re.MULTILINE)
        ),
        "exercises": exercises.get(chapter, 0),
        "longest cell": max((len(s.splitlines()) for s in code), default=0),
        "longest line": max((len(line) for line in lines), default=0),
    }


def exercises_by_chapter() -> dict[str, int]:
    from trustworthy_lib.exercises import EXERCISES

    counts: dict[str, int] = {}
    for exercise in EXERCISES.values():
        match = re.search(r"\d\d[a-z]?", str(exercise.chapter))
        key = match[0] if match else str(exercise.chapter)
        counts[key] = counts.get(key, 0) + 1
    return counts


def main() -> int:
    import pandas as pd

    rows = [chapter_counts(p, exercises_by_chapter()) for p in chapter_files(ROOT)]
    table = pd.DataFrame(rows).set_index("chapter")
    totals = table[["challenges", "discussions", "exercises"]].sum()
    print(table.to_string())
    print(
        f"\n{totals['challenges']} challenges, {totals['discussions']} discussions, "
        f"{totals['exercises']} exercises in "
        f"{int((table['exercises'] > 0).sum())} chapters; longest cell "
        f"{table['longest cell'].max()} lines ({table['longest cell'].idxmax()}), "
        f"longest line {table['longest line'].max()} characters "
        f"({table['longest line'].idxmax()})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
