"""Shared test set-up.

A skipped test counts as a failure here: a test that did not run proves nothing, and
CI must not report it as passing.

``myst_page`` writes a tiny MyST notebook page for the tests of the book's scripts.

``built_book`` is the one build of the site per test session: tests/test_site.py and
tests/test_export.py both use it, and it runs ``scripts/build_book.py`` only when
``_build/html`` is missing or older than the book's sources.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SOURCE_PATTERNS = (
    "_config.yml", "_toc.yml", "references.bib", "*.md", "chapters/**/*",
    "_static/**/*",
)  # fmt: skip
NOT_PAGES = ("_static", "_sources", "_images", "mathjax", "_downloads")


MYST_FRONT = (
    "---\njupytext:\n  text_representation:\n    extension: .md\n"
    "    format_name: myst\n    format_version: 0.13\n"
    "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n"
    "---\n\n# A page\n\n"
)


@pytest.fixture
def myst_page(tmp_path):
    """``write(name, code="x = 1", prose="")``: a MyST notebook page in ``tmp_path``
    with the front matter of the chapters, ``prose``, then one code cell."""

    def write(name: str, code: str = "x = 1", prose: str = "") -> Path:
        path = tmp_path / name
        cell = f"```{{code-cell}} ipython3\n{code}\n```\n"
        path.write_text(MYST_FRONT + prose + cell)
        return path

    return write


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} was skipped, and skips count as failures in this project: "
            f"{report.longrepr}"
        )


def _newest(paths) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def source_files() -> list[Path]:
    files = []
    for pattern in SOURCE_PATTERNS:
        files += [
            p
            for p in ROOT.glob(pattern)
            if p.name != "README.md" and ".ipynb_checkpoints" not in p.parts
        ]
    return files


def site_pages() -> list[Path]:
    if not HTML.is_dir():
        return []
    return sorted(
        p for p in HTML.rglob("*.html") if p.relative_to(HTML).parts[0] not in NOT_PAGES
    )


def site_is_fresh() -> bool:
    pages = site_pages()
    return bool(pages) and _newest(pages) >= _newest(source_files())


@pytest.fixture(scope="session")
def built_book() -> Path:
    """The built site (``_build/html``), built here once if missing or stale."""
    if not site_is_fresh():
        venv_python = ROOT / ".venv" / "bin" / "python"
        python = str(venv_python) if venv_python.exists() else sys.executable
        result = subprocess.run(
            [python, str(ROOT / "scripts" / "build_book.py")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-4000:]
            pytest.fail(
                "building the site with scripts/build_book.py failed "
                f"(exit {result.returncode}):\n{tail}"
            )
    return HTML
