"""Tests of scripts/check_claims.py and scripts/run_chapters.py on tiny notebooks."""

from __future__ import annotations

from pathlib import Path

from scripts.check_claims import check_claims, table
from scripts.run_chapters import chapter_files, execute_chapter

ROOT = Path(__file__).resolve().parents[1]


def test_the_seed_and_cache_reach_the_kernel_and_a_failed_claim_fails(
    tmp_path, myst_page
):
    seen = tmp_path / "seen.txt"
    ok = myst_page(
        "01-ok.md",
        "import os, pathlib\n"
        f"pathlib.Path({str(seen)!r}).write_text(os.environ['TRUSTWORTHY_SEED'] + ' '"
        " + os.environ['TRUSTWORTHY_CACHE'] + ' ' + os.getcwd())",
    )
    bad = myst_page(
        "02-bad.md",
        "import os\nseed = int(os.environ['TRUSTWORTHY_SEED'])\n"
        "assert seed != 2, 'the sentence \"always above\" fails with seed 2'",
    )
    assert execute_chapter(ok, seed=7, cache=tmp_path / "c") > 0
    assert seen.read_text() == f"7 {tmp_path / 'c'} {tmp_path}"
    records = check_claims([ok, bad], [1, 2], tmp_path / "c")
    result = {(r["chapter"], r["seed"]): r["ok"] for r in records}
    assert result == {
        ("01-ok", 1): True,
        ("01-ok", 2): True,
        ("02-bad", 1): True,
        ("02-bad", 2): False,
    }
    failed = next(r for r in records if not r["ok"])
    assert failed["reason"].startswith('AssertionError: the sentence "always above"')
    text = table(records, [1, 2])
    lines = text.splitlines()
    assert lines[0].split() == ["chapter", "seed", "1", "seed", "2"]
    assert lines[2].split()[:2] == ["01-ok", "pass"]
    assert lines[3].split()[0] == "02-bad" and lines[3].split()[4] == "FAIL"
    assert lines[-1].startswith("4 runs, 1 failed")


def test_chapter_files_follow_the_table_of_contents():
    chapters = chapter_files(ROOT)
    assert chapters and all(p.parent.name == "chapters" for p in chapters)
    assert {p.name for p in chapters} == {
        p.name for p in (ROOT / "chapters").glob("*.md")
    }


def test_book_counts_of_a_tiny_chapter(myst_page):
    from scripts.book_counts import chapter_counts

    page = myst_page(
        "08c-tiny.md",
        "a = 1\nb = 'a much longer line'",
        prose=":::{admonition} Challenge: one\nx\n:::\n\n"
        + "::::{admonition} Discussion: two\ny\n::::\n\n"
        + ":::{admonition} Challenge: three\nz\n:::\n\n",
    )
    counts = chapter_counts(page, {"08c": 2, "08b": 5})
    assert counts == {
        "chapter": "08c-tiny",
        "challenges": 2,
        "discussions": 1,
        "exercises": 2,
        "longest cell": 2,
        "longest line": len("b = 'a much longer line'"),
    }
