"""Load every page of the built site in headless Chromium and check what a reader sees.

The site in ``_build/html`` is served by a local ``http.server`` on 127.0.0.1 (a free
port), and every page is loaded in Debian's ``chromium`` with JavaScript running
(``--dump-dom`` after ``--virtual-time-budget``, so MathJax has typeset the maths). A
test fails when any page

* shows an error: a traceback in a cell output, a docutils system message, an unresolved
  reference, or a MathJax error;
* has a broken image: a local ``src`` that is missing, empty or not an image, a remote
  ``src`` (the site must work offline), or an empty ``data:`` URI;
* leaves maths untypeset: a ``math`` element without MathJax output, or raw TeX
  (``\\(``, ``$$``, ``$\\alpha$``...) in the text;
* links to a page, file or ``#anchor`` that does not exist (internal links only).

It also checks that every notebook page (every chapter) offers its ``.ipynb`` for
download and has Binder and Colab buttons that open that notebook on the branch that the
Pages workflow writes (``NOTEBOOK_BRANCH`` in ``.github/workflows/pages.yml``), and it
saves screenshots of three pages to ``_build/screenshots/`` for a person to look at.

The site is built only when needed: if ``_build/html`` is missing, or older than the
book's sources, the session fixture ``built_book`` (conftest.py) runs
``scripts/build_book.py`` with the project's Python first, once for all tests.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import socketserver
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
NOT_PAGES = ("_static", "_sources", "_images", "mathjax", "_downloads")
SCREENSHOT_PAGES = {
    "home": "intro.html",
    "chapter": "chapters/13-model-release.html",
    "references": "references.html",
}
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PAGE_TIMEOUT_S = 120

# ---------------------------------------------------------------------------
# Pages of the built site (the build itself is the session fixture ``built_book`` in
# conftest.py, shared with tests/test_export.py, so the book is built once per session)


def _pages() -> list[Path]:
    return sorted(
        p for p in HTML.rglob("*.html") if p.relative_to(HTML).parts[0] not in NOT_PAGES
    )


# ---------------------------------------------------------------------------
# Serving and loading


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        "Chromium is not installed, so the built site cannot be checked. Install it "
        "with `apt-get install chromium` (Debian/Ubuntu; `make test` does this for "
        "you)."
    )


def _chromium(
    browser: str, url: str, *extra: str, timeout: int = PAGE_TIMEOUT_S
) -> str:
    """Run headless Chromium on ``url`` with a private profile; return stdout."""
    with tempfile.TemporaryDirectory(prefix="site-test-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--mute-audio",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            *extra,
            url,
        ]
        for attempt in (1, 2):  # a loaded machine can time out once
            try:
                out = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=timeout
                )
                return out.stdout
            except subprocess.TimeoutExpired as err:
                if attempt == 2:
                    raise AssertionError(
                        f"Chromium did not finish loading {url} within {timeout} s, "
                        "twice"
                    ) from err
    return ""


class Dom(HTMLParser):
    """What the checks need from a rendered page, collected in one pass over the DOM."""

    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
    SKIP_TEXT = {
        "script",
        "style",
        "pre",
        "code",
        "textarea",
        "mjx-container",
        "kbd",
        "samp",
    }
    RAW_TEX = re.compile(
        r"\\\(|\\\[|\$\$|\$(?=[^$\s])[^$]{0,200}?(\\[A-Za-z]+|[\^_])[^$]{0,200}?\$"
    )

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.assets: list[str] = []
        self.images: list[str] = []
        self.errors: list[str] = []
        self.raw_tex: list[str] = []
        self.math_total = 0
        self.math_untypeset: list[str] = []
        self._math_open: list[dict] = []

    # -- helpers
    def _inside(self, tag: str | None = None, cls: str | None = None) -> bool:
        return any(
            (tag is None or t == tag) and (cls is None or cls in c)
            for t, c in self.stack
        )

    def _start(self, tag: str, attrs: list[tuple[str, str | None]]) -> set[str]:
        a = {k: (v or "") for k, v in attrs}
        classes = set(a.get("class", "").split())
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a.get("src", ""))
        elif tag == "script" and a.get("src"):
            self.assets.append(a["src"])
        elif tag == "link" and a.get("href") and "stylesheet" in a.get("rel", ""):
            self.assets.append(a["href"])
        if "traceback" in classes:
            self.errors.append("a cell output shows a traceback")
        if "system-message" in classes:
            self.errors.append(
                "a docutils system message (a build error rendered into the page)"
            )
        if "problematic" in classes:
            self.errors.append("an unresolved reference or role (class 'problematic')")
        if tag == "mjx-merror":
            self.errors.append("MathJax could not typeset an expression (mjx-merror)")
        if tag == "mjx-container":
            for record in self._math_open:
                record["typeset"] = True
        if "math" in classes and tag in ("span", "div"):
            self._math_open.append(
                {"typeset": False, "text": "", "depth": len(self.stack)}
            )
        return classes

    def handle_starttag(self, tag, attrs):
        classes = self._start(tag, attrs)
        if tag not in self.VOID:
            self.stack.append((tag, classes))

    def handle_startendtag(self, tag, attrs):
        self._start(tag, attrs)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        # pop to the matching tag (the DOM dump is well formed; this guards odd markup)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        while self._math_open and self._math_open[-1]["depth"] >= len(self.stack):
            record = self._math_open.pop()
            self.math_total += 1
            if not record["typeset"]:
                self.math_untypeset.append(record["text"].strip()[:80])

    def handle_data(self, data):
        if not data.strip():
            return
        for record in self._math_open:
            if not self._inside("mjx-container"):
                record["text"] += data
        in_output = self._inside(cls="cell_output") or self._inside(cls="output")
        if in_output and "Traceback (most recent call last)" in data:
            self.errors.append(
                "a cell output contains 'Traceback (most recent call last)'"
            )
        if (
            in_output
            and self._inside(cls="stderr")
            and re.search(r"\b\w*(Error|Exception)\b", data)
        ):
            self.errors.append(
                f"a stderr output reports an error: {data.strip()[:120]!r}"
            )
        if (
            self._math_open
            or any(t in self.SKIP_TEXT for t, _ in self.stack)
            or self._inside(cls="highlight")
        ):
            return
        match = self.RAW_TEX.search(data)
        if match:
            self.raw_tex.append(
                data[max(0, match.start() - 30) : match.end() + 30].strip()
            )


@pytest.fixture(scope="module")
def site(built_book):
    """Serve the built site and load every page: {relative path: Dom}."""
    browser = _browser()
    pages = _pages()
    assert pages, f"no HTML pages in {HTML}; the build produced nothing"
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:

        def load(page: Path) -> tuple[str, Dom]:
            rel = page.relative_to(HTML).as_posix()
            html = _chromium(browser, base + rel, "--dump-dom")
            assert "<html" in html.lower(), f"Chromium returned no DOM for {rel}"
            dom = Dom()
            dom.feed(html)
            dom.close()
            return rel, dom

        with ThreadPoolExecutor(
            max_workers=max(1, min(4, (os.cpu_count() or 2)))
        ) as pool:
            doms = dict(pool.map(load, pages))
        yield {"browser": browser, "base": base, "doms": doms}
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------
# Link resolution


def _local_target(page: str, href: str) -> tuple[Path | None, str]:
    """(file in _build/html, or None if external; fragment) of a link on ``page``."""
    parts = urlsplit(href)
    if parts.scheme or href.startswith("//"):
        return None, ""
    url = urlsplit(urljoin("http://site/" + page, href))
    path = unquote(url.path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return HTML / path, unquote(url.fragment)


_static_ids: dict[Path, set[str]] = {}


def _ids_of(target: Path, doms: dict) -> set[str]:
    rel = target.relative_to(HTML).as_posix()
    if rel in doms:
        return doms[rel].ids
    if target not in _static_ids:
        dom = Dom()
        dom.feed(target.read_text(encoding="utf-8", errors="replace"))
        _static_ids[target] = dom.ids
    return _static_ids[target]


# ---------------------------------------------------------------------------
# The checks


def _report(problems: dict[str, list[str]], what: str) -> None:
    problems = {page: sorted(set(p)) for page, p in problems.items() if p}
    if problems:
        lines = [f"{len(problems)} page(s) {what}:"]
        for page, items in sorted(problems.items()):
            lines += [f"  {page}:"] + [f"    - {item}" for item in items[:10]]
            if len(items) > 10:
                lines.append(f"    ... and {len(items) - 10} more")
        pytest.fail("\n".join(lines), pytrace=False)


def test_site_has_the_pages_of_the_table_of_contents(site):
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [
        c["file"] for part in toc.get("parts", []) for c in part["chapters"]
    ]
    missing = [f"{f}.html" for f in files if f"{f}.html" not in site["doms"]]
    assert not missing, (
        f"pages listed in _toc.yml are missing from the built site: {missing}"
    )


def test_no_page_shows_an_error(site):
    _report({page: dom.errors for page, dom in site["doms"].items()}, "show an error")


def test_no_image_is_broken(site):
    signatures = {
        ".png": (b"\x89PNG",),
        ".jpg": (b"\xff\xd8",),
        ".jpeg": (b"\xff\xd8",),
        ".gif": (b"GIF8",),
        ".webp": (b"RIFF",),
        ".svg": (b"<svg", b"<?xml"),
    }
    problems: dict[str, list[str]] = {}
    for page, dom in site["doms"].items():
        bad = problems.setdefault(page, [])
        for src in dom.images:
            if not src:
                bad.append("an <img> without a src")
            elif src.startswith("data:"):
                if len(src.split(",", 1)[-1]) < 16:
                    bad.append(f"an empty data: image ({src[:40]})")
            else:
                target, _ = _local_target(page, src)
                if target is None:
                    bad.append(f"a remote image, which does not load offline: {src}")
                elif not target.is_file() or target.stat().st_size == 0:
                    bad.append(f"missing or empty image file: {src}")
                else:
                    magic = signatures.get(target.suffix.lower())
                    head = target.read_bytes()[:256].lstrip()
                    if magic and not any(
                        head.startswith(m) or m in head for m in magic
                    ):
                        bad.append(f"not a valid {target.suffix} file: {src}")
    _report(problems, "have broken images")


def test_maths_is_typeset(site):
    total = sum(dom.math_total for dom in site["doms"].values())
    assert total > 0, (
        "no page has a maths element, so this check would prove nothing; the glossary "
        "and the chapters use $...$ maths, which Sphinx renders as <span class='math'>"
    )
    problems = {
        page: [f"untypeset maths: {t!r}" for t in dom.math_untypeset]
        + [f"raw TeX in the text: {t!r}" for t in dom.raw_tex]
        for page, dom in site["doms"].items()
    }
    _report(
        problems,
        "leave maths untypeset (is MathJax served from _mathjax/? run `make mathjax`)",
    )


def test_internal_links_resolve(site):
    doms = site["doms"]
    problems: dict[str, list[str]] = {}
    for page, dom in doms.items():
        bad = problems.setdefault(page, [])
        for href in dom.links + dom.assets:
            if (
                not href
                or href.startswith(("mailto:", "javascript:", "tel:", "data:"))
                or href == "#"
            ):
                continue
            target, fragment = _local_target(page, href)
            if target is None:
                continue  # external: not checked offline
            try:
                target.relative_to(HTML)
            except ValueError:
                bad.append(f"link leaves the site: {href}")
                continue
            if not target.is_file():
                bad.append(f"dead link: {href}")
            elif (
                fragment
                and target.suffix == ".html"
                and fragment not in _ids_of(target, doms)
            ):
                bad.append(f"missing anchor: {href}")
    _report(problems, "have dead internal links")


def _notebook_branch() -> str:
    workflow = ROOT / ".github" / "workflows" / "pages.yml"
    text = workflow.read_text() if workflow.is_file() else ""
    match = re.search(r"^\s*NOTEBOOK_BRANCH:\s*['\"]?([\w./-]+)", text, flags=re.M)
    assert match, (
        f"{workflow} must set NOTEBOOK_BRANCH (the branch with the chapters as .ipynb "
        "for Colab)"
    )
    return match.group(1)


def _notebook_pages() -> set[str]:
    """Pages (as 'chapters/11-ood-energy') whose source is a MyST notebook.

    A MyST notebook names a kernelspec.
    """
    sources = list(ROOT.glob("*.md")) + list((ROOT / "chapters").glob("*.md"))
    return {
        p.relative_to(ROOT).with_suffix("").as_posix()
        for p in sources
        if re.search(
            r"^kernelspec:",
            p.read_text(encoding="utf-8").split("\n---", 1)[0],
            flags=re.M,
        )
    }


def test_every_notebook_page_can_be_downloaded_and_launched(site):
    branch = _notebook_branch()
    notebooks = _notebook_pages()
    chapters = {f"chapters/{p.stem}" for p in (ROOT / "chapters").glob("*.md")}
    assert chapters <= notebooks, (
        f"chapters without a jupytext/kernelspec header: {sorted(chapters - notebooks)}"
    )
    problems: dict[str, list[str]] = {}
    for page, dom in site["doms"].items():
        name = page[: -len(".html")]
        bad = problems.setdefault(page, [])
        binder = [h for h in dom.links if "mybinder.org" in h]
        colab = [h for h in dom.links if "colab.research.google.com" in h]
        if name not in notebooks:
            if binder or colab:
                bad.append("launch buttons on a page that is not a notebook")
            continue
        stem = name.rsplit("/", 1)[-1]
        downloads = [
            h
            for h in dom.links
            if h.endswith(f"{stem}.ipynb") and not urlsplit(h).scheme
        ]
        if not downloads:
            bad.append("no 'download .ipynb' link")
        for href in downloads:
            target, _ = _local_target(page, href)
            if not target.is_file() or target.stat().st_size == 0:
                bad.append(f"the .ipynb download is missing: {href}")
        want = f"{name}.ipynb"
        if not binder:
            bad.append("no Binder launch button")
        elif not all(h.endswith(f"/{branch}?urlpath=lab/tree/{want}") for h in binder):
            bad.append(
                f"the Binder button does not open {want} on the '{branch}' branch: "
                f"{binder}"
            )
        if not colab:
            bad.append("no Colab launch button")
        elif not all(h.endswith(f"/blob/{branch}/{want}") for h in colab):
            bad.append(
                f"the Colab button does not open {want} on the '{branch}' branch: "
                f"{colab}"
            )
    missing = sorted(f"{c}.html" for c in chapters if f"{c}.html" not in site["doms"])
    for page in missing:
        problems[page] = ["the chapter page is missing from the built site"]
    _report(problems, "cannot be downloaded or launched as notebooks")


def test_screenshots_for_review(site):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in SCREENSHOT_PAGES.items():
        assert page in site["doms"], (
            f"cannot screenshot {page}: it is not in the built site"
        )
        out = SCREENSHOTS / f"{name}.png"
        out.unlink(missing_ok=True)
        _chromium(
            site["browser"],
            site["base"] + page,
            f"--screenshot={out}",
            "--window-size=1280,2400",
        )
        assert out.is_file() and out.stat().st_size > 10_000, (
            f"no usable screenshot of {page} in {out}"
        )
        assert out.read_bytes()[:4] == b"\x89PNG"
