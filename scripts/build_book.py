"""Build the site into _build/html, executing every chapter, and report execution times.

Usage: ``python scripts/build_book.py`` (``make book`` runs it with the project's venv).

* Runs ``jupyter-book build . -W --keep-going``: any cell error or Sphinx warning fails
  the build.
* Chapters execute through jupyter-cache (``_build/.jupyter_cache``), so a rebuild after
  a prose-only change re-executes nothing.
* Points every page's Binder and Colab buttons at ``<page>.ipynb`` on the ``notebooks``
  branch, which the Pages workflow (``.github/workflows/pages.yml``) writes: Colab
  cannot open a MyST ``.md`` file, and the ``.ipynb`` there carries a Colab set-up cell.
* Prints each chapter's execution time (from the cache records) and the total wall time,
  and writes them to ``_build/build_times.tsv``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NOTEBOOK_BRANCH = (
    "notebooks"  # must match NOTEBOOK_BRANCH in .github/workflows/pages.yml
)
_BINDER = re.compile(
    r'(https://mybinder\.org/v2/gh/[^/"]+/[^/"]+/)[^/?"]+(\?urlpath=lab/tree/[^"]+?)\.md"'
)
_COLAB = re.compile(
    r'(https://colab\.research\.google\.com/github/[^/"]+/[^/"]+/blob/)[^/"]+(/[^"]+?)\.md"'
)


def point_launch_buttons_at_notebooks(
    html_dir: Path, branch: str = NOTEBOOK_BRANCH
) -> int:
    """Point Binder/Colab links at ``<branch>/<page>.ipynb`` instead of the ``.md``.

    The links the book writes have the form ``<branch of the book>/<page>.md``.

    Returns the number of pages changed. Idempotent: links already rewritten are left
    alone.
    """
    changed = 0
    for page in html_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = _BINDER.sub(lambda m: f'{m.group(1)}{branch}{m.group(2)}.ipynb"', text)
        new = _COLAB.sub(lambda m: f'{m.group(1)}{branch}{m.group(2)}.ipynb"', new)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def execution_times() -> list[tuple[str, float]]:
    """Return (page, seconds) for every executed notebook in the jupyter cache."""
    from jupyter_cache import get_cache

    cache = get_cache(ROOT / "_build" / ".jupyter_cache")
    by_hash = {rec.hashkey: rec for rec in cache.list_cache_records()}
    rows = []
    for nb in cache.list_project_records():
        try:
            rec = cache.get_cached_project_nb(nb.uri)
        except Exception:  # a notebook that has not been executed yet has no record
            rec = None
        if rec is None or rec.hashkey not in by_hash:
            continue
        seconds = (rec.data or {}).get("execution_seconds")
        if seconds is not None:
            rows.append((Path(nb.uri).relative_to(ROOT).as_posix(), float(seconds)))
    return sorted(rows)


def main() -> int:
    if not (ROOT / "_mathjax" / "site" / "mathjax" / "tex-mml-chtml.js").is_file():
        print(
            "MathJax is missing: run `make mathjax` (or `make book`) first.",
            file=sys.stderr,
        )
        return 2
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    start = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "jupyter-book"), "build", str(ROOT), "-W", "--keep-going"],
        cwd=ROOT,
        env=env,
    )
    if (ROOT / "_build" / "html").is_dir():
        point_launch_buttons_at_notebooks(ROOT / "_build" / "html")
    wall = time.perf_counter() - start
    rows = execution_times()
    width = max([len(p) for p, _ in rows] + [10])
    print(
        "\nChapter execution times (jupyter-cache records; cached chapters were not "
        "re-run):"
    )
    for page, seconds in rows:
        print(f"  {page:<{width}}  {seconds:7.1f} s")
    print(f"  {'sum of execution':<{width}}  {sum(s for _, s in rows):7.1f} s")
    print(f"  {'build wall time':<{width}}  {wall:7.1f} s")
    out = ROOT / "_build" / "build_times.tsv"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        "".join(f"{p}\t{s:.1f}\n" for p, s in rows) + f"TOTAL_WALL\t{wall:.1f}\n"
    )
    if result.returncode != 0:
        print(
            f"\njupyter-book build failed (exit {result.returncode}); see the "
            "messages above.",
            file=sys.stderr,
        )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
