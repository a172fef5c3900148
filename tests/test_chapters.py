"""Execute every chapter of the book from a fresh kernel, as the site build does.

Chapters are MyST Markdown notebooks. Each is read with jupytext and run with nbclient
in the ``chapters/`` folder; any cell error fails the test. Each chapter's wall time is
printed (run pytest with ``-s`` or see the summary written to ``_build/chapter_times.txt``).
"""

from __future__ import annotations

import time
from pathlib import Path

import jupytext
import nbclient
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TIMES = ROOT / "_build" / "chapter_times.txt"


def toc_files() -> list[Path]:
    """Every page listed in _toc.yml, in order, as paths."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    paths = []
    for f in files:
        matches = [ROOT / f"{f}{ext}" for ext in (".md", ".ipynb") if (ROOT / f"{f}{ext}").is_file()]
        assert matches, f"_toc.yml lists {f}, but no {f}.md or {f}.ipynb exists"
        paths.append(matches[0])
    return paths


CHAPTERS = [p for p in toc_files() if p.parent.name == "chapters"]


def test_toc_lists_every_chapter_file():
    on_disk = {p.name for p in (ROOT / "chapters").glob("*.md")}
    assert on_disk == {p.name for p in CHAPTERS}


@pytest.mark.chapters
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_executes(path: Path):
    nb = jupytext.read(path)
    client = nbclient.NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    TIMES.parent.mkdir(exist_ok=True)
    with TIMES.open("a") as fh:
        fh.write(f"{path.stem}\t{seconds:.1f}\n")
    print(f"\n[chapter time] {path.stem}: {seconds:.1f} s")
