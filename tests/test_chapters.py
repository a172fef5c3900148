"""Execute every chapter of the book from a fresh kernel, as the site build does.

Chapters are MyST Markdown notebooks. Each is read with jupytext and run with nbclient
in the ``chapters/`` folder (``scripts/run_chapters.py``, shared with ``make
check-claims``); any cell error fails the test. Each chapter's wall time is printed
(run pytest with ``-s`` or see the summary written to ``_build/chapter_times.txt``).

The instructor notes are a notebook page too (they read the chapter times with
``scripts.chapter_runtimes``); they are executed here as well, so that import is tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.run_chapters import chapter_files, execute_chapter, toc_files

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "_build" / "chapter_times.txt"
CHAPTERS = chapter_files(ROOT)


def test_toc_lists_every_chapter_file():
    on_disk = {p.name for p in (ROOT / "chapters").glob("*.md")}
    assert on_disk == {p.name for p in CHAPTERS}


@pytest.mark.chapters
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_executes(path: Path):
    seconds = execute_chapter(path)
    TIMES.parent.mkdir(exist_ok=True)
    with TIMES.open("a") as fh:
        fh.write(f"{path.stem}\t{seconds:.1f}\n")
    print(f"\n[chapter time] {path.stem}: {seconds:.1f} s")


@pytest.mark.chapters
def test_instructor_notes_execute():
    notes = ROOT / "instructor-notes.md"
    assert notes in toc_files(ROOT), "_toc.yml must list instructor-notes"
    execute_chapter(notes, timeout=300)
