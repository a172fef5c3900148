"""Find the book's chapters and execute one from a fresh kernel, as the site build does.

Shared by ``tests/test_chapters.py`` (every chapter with the default seed) and
``scripts/check_claims.py`` (every chapter with other seeds), so both run a chapter the
same way: read with jupytext, executed with nbclient in the chapter's own folder, any
cell error fails.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

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
