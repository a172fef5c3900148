"""Tests of scripts/export_notebooks.py: the book's pages as notebooks for Jupyter and
Colab.

Two kinds of tests:

* fast ones on a tiny book written into ``tmp_path`` (a chapter, a glossary, a BibTeX
  file and the ``_build/jupyter_execute`` files a build would leave), which pin down
  each conversion with a known answer;
* ``site`` tests on the real book, which need a built site: they reuse the session's
  build (the ``built_book`` fixture in conftest.py, shared with tests/test_site.py),
  export every page, check that nothing raw is left, run two exported notebooks with
  nbclient in a folder outside the repository, and run the Colab set-up cell in a
  simulated Colab.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import jupytext
import nbclient
import nbformat
import pytest

from scripts import export_notebooks as ex

ROOT = Path(__file__).resolve().parents[1]

FRONT = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)

CHAPTER = FRONT + textwrap.dedent("""\

    # A tiny chapter

    :::{admonition} Questions
    - What is {glue:text}`ratio:.2f` of {glue:text}`count`?
    :::

    See {doc}`02-other`, {doc}`the glossary page </glossary>`, {ref}`the-case`,
    {cite}`smith2020,doe2019` and {func}`trustworthy_lib.ood.energy_score` or
    {mod}`~trustworthy_lib.ood`. A {term}`false positive` is {glue:md}`verdict`.
    Literal `{glue:text}` in code stays.

    ```{code-cell} ipython3
    from myst_nb import glue
    x = 1
    glue("x", x, display=False)
    ```

    ```{code-cell} ipython3
    :tags: [remove-cell]
    glue("hidden", 2)
    ```

    (the-case)=
    ## The case study

    ![a plot](figure.png)

    :::{admonition} Challenge: find the leak
    Which column leaks?
    :::

    :::{admonition} Solution
    :class: dropdown
    ```python
    print({"a": 1})  # {glue:text}`count` is not replaced inside code
    ```
    It was {glue:text}`share:.1%`.
    :::

    :::{admonition} Discussion: feedback loops
    Talk in pairs.
    :::

    :::{admonition} Cost is standing in for need
    :class: warning
    A box.
    :::

    :::{admonition} Key points
    - One.
    :::
    """)


def _glue_output(plain: str, markdown: str | None = None) -> dict:
    data = {"text/plain": plain}
    if markdown is not None:
        data["text/markdown"] = markdown
    return {"output_type": "display_data", "data": data, "metadata": {}}


def _tiny_book(root: Path, build: bool = True) -> Path:
    (root / "chapters").mkdir(parents=True)
    page = root / "chapters" / "01-tiny.md"
    page.write_text(CHAPTER)
    (root / "chapters" / "02-other.md").write_text(FRONT + "\n# The other chapter\n")
    (root / "glossary.md").write_text("# Glossary\n")
    (root / "requirements.txt").write_text("torch==2.0\nfairlearn==0.15.0\n# note\n")
    (root / "_config.yml").write_text("repository:\n  url: https://example.org/wb\n")
    (root / "references.bib").write_text(
        "@article{smith2020,\n  author = {Smith, Ann and Jones, Bo and Li, Cy},\n"
        "  title = {T}, year = {2020}\n}\n"
        "@article{doe2019,\n  author = {Doe, Jo},\n  title = {U}, year = {2019}\n}\n"
    )
    if build:
        out = root / "_build" / "jupyter_execute" / "chapters"
        out.mkdir(parents=True)
        for stem in ("01-tiny", "02-other"):
            nbformat.write(nbformat.v4.new_notebook(), out / f"{stem}.ipynb")
        glue = {
            "ratio": _glue_output("0.123456"),
            "count": _glue_output("1234"),
            "share": _glue_output("0.4567"),
            "verdict": _glue_output("'better'", "**better**"),
        }
        (out / "01-tiny.glue.json").write_text(json.dumps(glue))
    return page


def _markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.fixture
def tiny(tmp_path):
    page = _tiny_book(tmp_path / "book")
    written = ex.export_book(tmp_path / "book", tmp_path / "out", "URL", "main")
    nb = nbformat.read(tmp_path / "out" / "chapters" / "01-tiny.ipynb", as_version=4)
    return page, written, nb


def test_export_writes_every_notebook_page_and_only_those(tiny, tmp_path):
    _, written, _ = tiny
    rel = sorted(p.relative_to(tmp_path / "out").as_posix() for p in written)
    assert rel == ["chapters/01-tiny.ipynb", "chapters/02-other.ipynb"]  # no glossary


def test_glue_roles_take_the_build_value_with_the_format_applied(tiny):
    text = _markdown(tiny[2])
    assert f"{0.123456:.2f}" == "0.12" and "What is 0.12 of 1234?" in text
    assert f"It was {0.4567:.1%}." == "It was 45.7%." and "It was 45.7%." in text
    assert "is **better**." in text  # glue:md takes the markdown form
    assert "`{glue:text}` in code stays" in text
    assert "{glue:text}`count` is not replaced inside code" in text
    assert "0.123456" not in text


def test_directives_become_markdown_that_jupyter_renders(tiny):
    text = _markdown(tiny[2])
    assert "> #### Questions\n>\n> - What is" in text
    assert "> #### Key points" in text
    assert "#### Challenge: find the leak\n\nWhich column leaks?" in text
    assert "> #### Discussion: feedback loops\n>\n> Talk in pairs." in text
    assert "> **Cost is standing in for need**\n>\n> A box." in text
    solution = re.search(
        r"<details>\n<summary><b>Solution</b></summary>\n\n(.*?)</details>",
        text,
        re.DOTALL,
    )
    assert solution, text
    assert '```python\nprint({"a": 1})' in solution[1] and "45.7%" in solution[1]
    assert "![a plot](figure.png)" in text
    assert ":::" not in text and "{admonition}" not in text
    assert "(the-case)=" not in text and ":class:" not in text


def _render(markdown: str) -> str:
    """Markdown to HTML as a CommonMark renderer (like Jupyter's) does it."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).render(markdown)


def test_the_markdown_renders_as_boxes_headings_and_folded_solutions(tiny):
    html = "".join(
        _render(c.source) for c in tiny[2].cells if c.cell_type == "markdown"
    )
    assert "<blockquote>\n<h4>Questions</h4>\n<ul>\n<li>What is 0.12 of 1234?" in html
    assert "<h4>Challenge: find the leak</h4>" in html
    folded = re.search(r"<details>(.*?)</details>", html, re.DOTALL)
    assert folded, html
    assert "<summary><b>Solution</b></summary>" in folded[1]
    assert '<pre><code class="language-python">' in folded[1]
    assert "<p>It was 45.7%.</p>" in folded[1]  # Markdown inside <details> is rendered
    assert "<blockquote>\n<p><strong>Cost is standing in for need</strong></p>" in html
    assert '<a href="02-other.ipynb">The other chapter</a>' in html


def test_cross_references_become_links_and_plain_text(tiny):
    text = _markdown(tiny[2])
    assert "See [The other chapter](02-other.ipynb)" in text
    assert "[the glossary page](../glossary.md)" in text
    assert "*The case study*" in text  # a label on the same page
    assert "(Smith et al., 2020; Doe, 2019)" in text
    assert "`trustworthy_lib.ood.energy_score()`" in text and "`ood`" in text
    assert "A [false positive](../glossary.md) is" in text


def test_cells_removed_and_glue_stripped_and_colab_cell_first(tiny):
    nb = tiny[2]
    first = nb.cells[0]
    assert first.cell_type == "code" and first.metadata["tags"] == ["colab-setup"]
    assert '"google.colab" in sys.modules' in first.source
    assert 'PACKAGES = [\n    "fairlearn",\n]' in first.source  # Colab has torch
    code = [c.source for c in nb.cells[1:] if c.cell_type == "code"]
    assert code == ["x = 1"]  # the remove-cell cell is gone, the glue lines stripped
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    nbformat.validate(nb)


def test_glue_inside_a_block_is_refused():
    with pytest.raises(ex.ExportError, match="move the glue call into a cell tagged"):
        ex.strip_glue("for k in range(2):\n    glue(f'k{k}', k)\n", "page, cell 3")
    assert ex.strip_glue("glue('a',\n     1)\ny = 2\n", "p") == "y = 2"


def test_export_fails_clearly_without_a_build(tmp_path, capsys):
    _tiny_book(tmp_path / "book", build=False)
    code = ex.main(["--root", str(tmp_path / "book"), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "the book has not been built" in err and "make book" in err
    assert not (tmp_path / "out").exists()


def test_export_refuses_a_build_older_than_the_page(tmp_path):
    page = _tiny_book(tmp_path / "book")
    later = page.stat().st_mtime + 60
    os.utime(page, (later, later))
    with pytest.raises(ex.ExportError, match="changed after the last build"):
        ex.export_book(tmp_path / "book", tmp_path / "out", "URL", "main")


def test_unknown_directive_role_or_glue_key_names_the_page(tmp_path):
    page = _tiny_book(tmp_path / "book")
    book = ex.Book.load(tmp_path / "book")
    conv = ex.PageConverter(book, page.resolve())
    with pytest.raises(ex.ExportError, match=r"01-tiny.md: the directive \{tabbed\}"):
        conv.block([":::{tabbed} x", "y", ":::"])
    with pytest.raises(ex.ExportError, match=r"the role \{numref\}"):
        conv.block(["see {numref}`fig`"])
    with pytest.raises(ex.ExportError, match="glue key 'nope' is not in the build"):
        conv.block(["{glue:text}`nope:.2f`"])
    with pytest.raises(ex.ExportError, match="not in references.bib"):
        conv.block(["{cite}`missing2000`"])


def test_the_glue_format_agrees_with_myst_nb():
    """The exporter formats with myst-nb's own function, so site and notebook agree."""
    from myst_nb.core.variables import format_plain_text

    assert format_plain_text("0.98765", ".1%") == "98.8%"
    assert format_plain_text("'near'", "s") == "near"  # quotes of a str repr dropped
    assert format_plain_text("12", "d") == "12"


# ---------------------------------------------------------------------------
# The real book (needs a build; shares the session's build with tests/test_site.py)

RAW = re.compile(
    r"\{(glue|doc|ref|cite|func|mod|class|term|admonition)[:\w-]*\}|^:::", re.MULTILINE
)


def _without_code(markdown: str) -> str:
    return re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)


@pytest.fixture(scope="module")
def exported(built_book, tmp_path_factory):
    out = tmp_path_factory.mktemp("exported")
    assert ex.main(["--out", str(out)]) == 0
    return out


@pytest.mark.site
def test_every_notebook_page_is_exported_with_nothing_raw(exported):
    pages = ex.notebook_pages(ROOT)
    assert any(p.parent.name == "chapters" for p in pages)
    problems = []
    for page in pages:
        rel = page.relative_to(ROOT).with_suffix(".ipynb")
        nb = nbformat.read(exported / rel, as_version=4)
        source = jupytext.read(page)
        folder = rel.parent.as_posix() if rel.parent != Path(".") else ""
        url, branch = ex.default_repository(ROOT)
        want = ex.colab_cell(url, branch, folder, ex.colab_packages(ROOT))
        assert nb.cells[0].source == want.source, f"{rel}: the Colab cell is not first"
        assert nb.cells[0].metadata.get("tags") == ["colab-setup"], rel
        text = _markdown(nb)
        raw = RAW.findall(_without_code(text))
        rendered = re.sub(
            r"<pre>.*?</pre>|<code>.*?</code>", "", _render(text), flags=re.DOTALL
        )
        raw += re.findall(r"\{(?:glue|doc|ref|cite|admonition)[:\w-]*\}|:::", rendered)
        if raw:
            problems.append(f"{rel}: raw MyST left: {sorted(set(raw))}")
        for cell in nb.cells[1:]:
            if cell.cell_type == "code" and re.search(r"\bglue\b|myst_nb", cell.source):
                problems.append(f"{rel}: a code cell holds glue/myst_nb")
            if "remove-cell" in cell.metadata.get("tags", []):
                problems.append(f"{rel}: a remove-cell cell was kept")
        md = "\n".join(c.source for c in source.cells if c.cell_type == "markdown")
        solutions = len(re.findall(r"^:::+\{admonition\} Solution", md, re.MULTILINE))
        challenges = len(re.findall(r"^:::+\{admonition\} Challenge", md, re.MULTILINE))
        if text.count("<details>") != solutions:
            problems.append(
                f"{rel}: {solutions} solutions, {text.count('<details>')} folded"
            )
        if len(re.findall(r"^#### Challenge", text, re.MULTILINE)) != challenges:
            problems.append(f"{rel}: not every challenge became a heading")
    assert not problems, "\n".join(problems)


@pytest.mark.site
def test_every_glued_text_in_a_chapter_shows_the_build_value(exported):
    """Recompute each {glue:text} from the build's glue file; it must appear as is."""
    from myst_nb.core.variables import format_plain_text

    checked = 0
    for page in ex.notebook_pages(ROOT):
        rel = page.relative_to(ROOT).with_suffix("")
        glue_file = ROOT / "_build" / "jupyter_execute" / f"{rel}.glue.json"
        if not glue_file.is_file():
            continue
        values = json.loads(glue_file.read_text())
        text = _markdown(nbformat.read(exported / f"{rel}.ipynb", as_version=4))
        for key, spec in re.findall(
            r"\{glue:text\}`([\w-]+):?([^`]*)`", _without_code(page.read_text())
        ):
            want = format_plain_text(values[key]["data"]["text/plain"], spec or "s")
            assert want in text, f"{rel}: glue {key!r} should read {want!r}"
            checked += 1
    assert checked > 50, f"only {checked} glue roles were checked"


def _run(nb_path: Path, cwd: Path, timeout: int = 600) -> None:
    nb = nbformat.read(nb_path, as_version=4)
    nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    ).execute()


@pytest.mark.site
@pytest.mark.parametrize("stem", ["00-overview", "09-ood-overview"])
def test_exported_chapter_runs_outside_the_repository(exported, tmp_path, stem):
    folder = tmp_path / "learner" / "chapters"
    folder.mkdir(parents=True)
    shutil.copy(exported / "chapters" / f"{stem}.ipynb", folder)
    assert ROOT not in folder.parents
    _run(folder / f"{stem}.ipynb", folder)


def test_colab_setup_cell_in_a_simulated_colab(tmp_path):
    """google.colab importable, the repository a local clone, pip fetching nothing."""
    origin = tmp_path / "origin"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", str(origin)], check=True)
    subprocess.run(
        [*git, "-C", str(origin), "fetch", "-q", str(ROOT), "HEAD"], check=True
    )
    subprocess.run(
        [*git, "-C", str(origin), "branch", "colab", "FETCH_HEAD"], check=True
    )
    colab_dir = tmp_path / "content" / "workbook"
    setup = ex.colab_cell(
        origin.as_uri(), "colab", "chapters", ex.colab_packages(ROOT), str(colab_dir)
    )
    fake = nbformat.v4.new_code_cell(
        "import sys, types\n"
        "sys.modules['google'] = types.ModuleType('google')\n"
        "sys.modules['google.colab'] = types.ModuleType('google.colab')"
    )
    check = nbformat.v4.new_code_cell(
        "import os, trustworthy_lib\n"
        f"assert os.getcwd() == {str(colab_dir / 'chapters')!r}, os.getcwd()\n"
        f"assert trustworthy_lib.__file__.startswith({str(colab_dir)!r})"
    )
    nb = nbformat.v4.new_notebook(cells=[fake, setup, check])
    # pip may only confirm what is installed: no index, no wheels folder, a dry run
    nowheels = tmp_path / "no-wheels"
    nowheels.mkdir()
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(nowheels),
        "PIP_DRY_RUN": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=env)
    assert (colab_dir / "trustworthy_lib" / "__init__.py").is_file()
    assert (colab_dir / "chapters").is_dir()


def test_the_pages_workflow_calls_the_exporter_and_has_no_inline_python():
    import yaml

    workflow = yaml.safe_load(
        (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    )
    runs = [s.get("run", "") for s in workflow["jobs"]["build"]["steps"]]
    export = [r for r in runs if "scripts/export_notebooks.py" in r]
    assert len(export) == 1, "exactly one step should export the notebooks"
    assert "--out" in export[0] and "--repo-url" in export[0]
    assert not any(re.search(r"python\S* -(\s|$)|<<\s*'?PY", r) for r in runs)


class _AnyGlue(dict):
    """Placeholder glue values for every key, so pages convert without a build."""

    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return {"data": {"text/plain": "0.5", "text/markdown": "0.5"}}

    def get(self, key, default=None):
        return self[key]


def test_every_page_converts_without_a_build(monkeypatch):
    # The book's own pages, with placeholder glue values: every directive, role and
    # fence they use is one the exporter knows (a fence that opens a list item too).
    monkeypatch.setattr(ex, "read_glue", lambda root, page: _AnyGlue())
    book = ex.Book.load(ex.ROOT)
    for page in book.pages:
        nb = ex.export_page(book, page, None)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert "glue(" not in cell.source and "myst_nb" not in cell.source
            else:
                for raw in (":::{", "```{", "{glue", "{doc}", "{cite}"):
                    assert raw not in cell.source, (page.name, raw)


def test_a_fence_that_opens_a_list_item_is_kept_as_code():
    lines = ["1. Run", "2. ```python", "   x = {1: 2}", "   ```", "   done"]
    assert ex.CODE_FENCE.match(lines[1])["fence"] == "```"
