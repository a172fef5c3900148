"""Lint and format-check the chapters' code with ruff, through jupytext.

Usage (``make test`` runs it)::

    python -m scripts.ruff_chapters [--fix] [chapters/06-linear-probes.md ...]

Each chapter (MyST Markdown) is written with jupytext as a notebook into a temporary
folder, named after the chapter, and ``ruff check`` and ``ruff format --check`` run over
those notebooks with the project's ruff settings and a line length of 88. Ruff reads a
notebook cell by cell, so an import at the top of a later cell, or a bare expression
that a cell displays, is fine; its messages name the chapter and the cell. Exits
non-zero when either finds a problem: fix the chapter's code (``ruff format`` shows the
layout it wants), not the notebook copy, which is thrown away.

``--fix`` applies ``ruff format`` and ruff's safe fixes to the chapters themselves: the
fixed code cells are copied back into the ``.md`` file, and only when jupytext writes
that chapter back unchanged before the fix (so nothing but code can change).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE_LENGTH = 88
OPTION = re.compile(r"^:[\w-]+:")  # a code cell's option line, e.g. :tags:


def ruff_executable() -> str:
    here = Path(sys.executable).parent / "ruff"
    found = str(here) if here.is_file() else shutil.which("ruff")
    if not found:
        raise SystemExit(
            "ruff is not installed: run `make env` (it is pinned in requirements.txt)"
        )
    return found


def write_notebooks(chapters: list[Path], folder: Path) -> list[Path]:
    """Each chapter's cells as ``folder/<stem>.ipynb`` (markdown cells are kept)."""
    import jupytext

    written = []
    for path in chapters:
        target = folder / f"{path.stem}.ipynb"
        jupytext.write(jupytext.read(path), target, fmt="ipynb")
        written.append(target)
    return written


def run_ruff(notebooks: list[Path]) -> int:
    ruff = ruff_executable()
    common = [f"--line-length={LINE_LENGTH}", "--config", str(ROOT / "pyproject.toml")]
    check = subprocess.run(
        [ruff, "check", *common, "--output-format=concise", *map(str, notebooks)],
        check=False,
    )
    fmt = subprocess.run(
        [ruff, "format", "--check", *common, *map(str, notebooks)], check=False
    )
    return check.returncode or fmt.returncode


def code_cell_bodies(lines: list[str]) -> list[tuple[int, int]]:
    """(first, end) line ranges of each ``{code-cell}`` body in a MyST chapter."""
    ranges, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```{code-cell}"):
            i += 1
            while i < len(lines) and OPTION.match(lines[i]):
                i += 1
            first = i
            while i < len(lines) and lines[i].rstrip() != "```":
                i += 1
            ranges.append((first, i))
        i += 1
    return ranges


def fix_chapters(chapters: list[Path], folder: Path) -> list[Path]:
    """Apply ruff's formatting and safe fixes to the chapters' code cells, in place.

    Only the code between each ``{code-cell}`` fence and its closing fence changes; a
    chapter whose cells cannot be matched one to one with jupytext's is left alone.
    """
    import jupytext

    ruff = ruff_executable()
    common = [f"--line-length={LINE_LENGTH}", "--config", str(ROOT / "pyproject.toml")]
    changed = []
    for path in chapters:
        lines = path.read_text(encoding="utf-8").split("\n")
        nb = jupytext.read(path)
        code = [c for c in nb.cells if c.cell_type == "code"]
        ranges = code_cell_bodies(lines)
        same = len(ranges) == len(code) and all(
            "\n".join(lines[a:b]).strip() == c.source.strip()
            for (a, b), c in zip(ranges, code, strict=True)
        )
        if not same:
            print(f"{path.name}: its code cells do not match jupytext's; fix by hand")
            continue
        copy = folder / f"{path.stem}.ipynb"
        jupytext.write(nb, copy, fmt="ipynb")
        for fix in (["check", "--fix"], ["format"]):
            subprocess.run(
                [ruff, *fix, *common, str(copy)], check=False, capture_output=True
            )
        fixed = [c for c in jupytext.read(copy).cells if c.cell_type == "code"]
        for (a, b), cell in reversed(list(zip(ranges, fixed, strict=True))):
            lines[a:b] = cell.source.strip("\n").split("\n")
        text = "\n".join(lines)
        if text != path.read_text(encoding="utf-8"):
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    fix = "--fix" in args
    args = [a for a in args if a != "--fix"]
    chapters = [Path(a).resolve() for a in args] or sorted(
        (ROOT / "chapters").glob("*.md")
    )
    missing = [str(p) for p in chapters if not p.is_file()]
    if missing:
        print(f"ruff_chapters: no such chapter file: {missing}", file=sys.stderr)
        return 2
    if fix:
        with tempfile.TemporaryDirectory(prefix="ruff-fix-") as tmp:
            for path in fix_chapters(chapters, Path(tmp)):
                print(f"fixed {path}")
    with tempfile.TemporaryDirectory(prefix="ruff-chapters-") as tmp:
        notebooks = write_notebooks(chapters, Path(tmp))
        code = run_ruff(notebooks)
    status = (
        "passed" if code == 0 else "found problems (above; paths are chapter names)"
    )
    print(f"ruff over the code of {len(chapters)} chapter(s): {status}")
    return code


if __name__ == "__main__":
    sys.exit(main())
