"""Build the site into _build/html, executing every chapter, and report execution times.

Usage: ``python scripts/build_book.py`` (``make book`` runs it with the project's venv).

* Executes the chapters whose code changed since they were last executed, two at a
  time (``--jobs N`` or the environment variable ``BOOK_JOBS``; ``--jobs 1`` runs them
  one after another), and stores them in the jupyter cache (``_build/.jupyter_cache``)
  exactly as ``jupyter-book`` would: read by myst-nb, executed by jupyter-cache in the
  chapter's folder, keyed by the hash of its code. Chapters that share a cached model
  run in one worker, in order (``scripts/run_chapters.py``). A cell error stops the
  build here, with the traceback.
* Then runs ``jupyter-book build . -W --keep-going``, which finds every chapter in the
  cache and only renders (any cell error or Sphinx warning fails the build). A rebuild
  after a prose-only change re-executes nothing.
* Points every page's Binder and Colab buttons at ``<page>.ipynb`` on the ``notebooks``
  branch, which the Pages workflow (``.github/workflows/pages.yml``) writes: Colab
  cannot open a MyST ``.md`` file, and the ``.ipynb`` there carries a Colab set-up cell.
* Prints each chapter's execution time (from the cache records) and the total wall time,
  and writes them to ``_build/build_times.tsv``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python scripts/build_book.py`
    sys.path.insert(0, str(ROOT))

from scripts.run_chapters import (  # noqa: E402
    chapter_files,
    default_jobs,
    execution_units,
    run_units,
)

JUPYTER_CACHE = ROOT / "_build" / ".jupyter_cache"
#: How myst-nb reads a MyST Markdown notebook; stored with each project record, as
#: myst-nb does, so ``jcache`` can read the chapter again.
MYST_NB_READER = {"type": "plugin", "name": "myst_nb_md"}
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


def book_config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def read_book_notebook(path: Path, root: Path = ROOT):
    """The notebook that ``jupyter-book`` builds from the MyST file at ``path``.

    Read by myst-nb's own reader with the book's MyST extensions, so that its hash in
    the jupyter cache is the one the build looks up.
    """
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    extensions = book_config(root).get("parse", {}).get("myst_enable_extensions", [])
    config = MdParserConfig(enable_extensions=set(extensions))
    text = Path(path).read_text(encoding="utf-8")
    return read_myst_markdown_notebook(
        text, config=config, add_source_map=True, path=str(path)
    )


def execute_for_cache(path: Path) -> dict:
    """Execute one chapter as myst-nb's cache mode does; return what to cache.

    Runs in a worker process (:func:`scripts.run_chapters.run_units`). Returns the
    executed notebook, the seconds it took and, if a cell failed, the traceback.
    """
    from jupyter_cache.executors.utils import single_nb_execution

    execute = book_config().get("execute", {})
    notebook = read_book_notebook(path)
    print(f"  executing {path.stem}", flush=True)
    result = single_nb_execution(
        notebook,
        cwd=str(Path(path).parent),
        timeout=execute.get("timeout", 30),
        allow_errors=bool(execute.get("allow_errors", False)),
        meta_override=True,
    )
    status = "FAILED" if result.err is not None else "done"
    print(f"  {status}: {path.stem} in {result.time:.1f} s", flush=True)
    return {
        "path": Path(path),
        "notebook": result.nb if result.err is None else None,
        "seconds": result.time,
        "error": result.exc_string,
    }


def stale_chapters(cache, paths: list[Path]) -> list[Path]:
    """The chapters whose code has no executed notebook in the jupyter cache."""
    stale = []
    for path in paths:
        try:
            cache.match_cache_notebook(read_book_notebook(path))
        except KeyError:
            stale.append(path)
    return stale


def execute_chapters(jobs: int) -> list[dict]:
    """Execute every stale chapter, ``jobs`` at a time, into the jupyter cache.

    Returns the failed runs (empty when all passed); a failed chapter is not cached.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(JUPYTER_CACHE)
    stale = stale_chapters(cache, chapter_files(ROOT))
    if not stale:
        print("Every chapter is in the jupyter cache; nothing to execute.")
        return []
    print(f"Executing {len(stale)} chapter(s), {jobs} at a time:", flush=True)
    failed = []
    for run in run_units(execution_units(stale), execute_for_cache, jobs):
        if run["error"] is not None:
            failed.append(run)
            continue
        record = cache.add_nb_to_project(str(run["path"]), read_data=MYST_NB_READER)
        cache.cache_notebook_bundle(
            CacheBundleIn(
                run["notebook"],
                record.uri,
                data={"execution_seconds": run["seconds"]},
            ),
            check_validity=False,
            overwrite=True,
        )
    return failed


def chapter_records() -> dict[str, int]:
    """The jupyter cache's record id of every chapter's executed notebook, by path."""
    from jupyter_cache import get_cache

    cache = get_cache(JUPYTER_CACHE)
    chapters = {str(p.resolve()) for p in chapter_files(ROOT)}
    return {r.uri: r.pk for r in cache.list_cache_records() if r.uri in chapters}


def executed_again(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """The chapters whose cache record changed between two :func:`chapter_records`:
    executed in between (by Jupyter Book, when its lookup missed)."""
    return sorted(Path(uri).stem for uri, pk in after.items() if before.get(uri) != pk)


def execution_times() -> list[tuple[str, float]]:
    """Return (page, seconds) for every executed notebook in the jupyter cache."""
    from jupyter_cache import get_cache

    cache = get_cache(JUPYTER_CACHE)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="chapters executed at once (default: BOOK_JOBS, else 2)",
    )
    args = parser.parse_args(argv)
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        parser.error("--jobs must be at least 1")
    if not (ROOT / "_mathjax" / "site" / "mathjax" / "tex-mml-chtml.js").is_file():
        print(
            "MathJax is missing: run `make mathjax` (or `make book`) first.",
            file=sys.stderr,
        )
        return 2
    # the kernels (started here and by jupyter-book) use this venv's Python
    os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    start = time.perf_counter()
    failed = execute_chapters(jobs)
    if failed:
        for run in failed:
            print(f"\n{run['path'].stem} failed:\n{run['error']}", file=sys.stderr)
        names = ", ".join(run["path"].stem for run in failed)
        print(
            f"\nA cell failed in {names} (traceback above); the site was not built. "
            "Fix the chapter and run the build again: chapters that passed are cached "
            "and are not executed again.",
            file=sys.stderr,
        )
        return 1
    executed_at = time.perf_counter()
    executed = chapter_records()
    result = subprocess.run(
        [str(BIN / "jupyter-book"), "build", str(ROOT), "-W", "--keep-going"],
        cwd=ROOT,
    )
    rerun = executed_again(executed, chapter_records())
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
    print(f"  {'executing chapters':<{width}}  {executed_at - start:7.1f} s wall")
    print(f"  {'jupyter-book':<{width}}  {wall - (executed_at - start):7.1f} s wall")
    print(f"  {'build wall time':<{width}}  {wall:7.1f} s")
    out = ROOT / "_build" / "build_times.tsv"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        "".join(f"{p}\t{s:.1f}\n" for p, s in rows) + f"TOTAL_WALL\t{wall:.1f}\n"
    )
    if rerun:
        print(
            f"\njupyter-book executed {', '.join(rerun)} again: the notebook it read "
            "did not match the one executed in parallel above (a change in myst-nb's "
            "reader?). The site is right but the build took longer; make "
            "read_book_notebook read chapters as myst-nb does.",
            file=sys.stderr,
        )
        return 1
    if result.returncode != 0:
        print(
            f"\njupyter-book build failed (exit {result.returncode}); see the "
            "messages above.",
            file=sys.stderr,
        )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
