"""Export every notebook page of the built book as a notebook that reads well anywhere.

Usage (after ``make book``)::

    python scripts/export_notebooks.py --out DIR [--repo-url URL] [--branch BRANCH]

For every MyST notebook page (a ``.md`` file whose header names a kernelspec: the
chapters and the instructor notes) it writes ``DIR/<page>.ipynb``, for example
``DIR/chapters/11-ood-energy.ipynb``. In each notebook

* a Colab set-up cell comes first: on Colab it clones the workbook and installs what
  Colab lacks; anywhere else it does nothing;
* cells tagged ``remove-cell`` are dropped, and no code cell calls ``glue`` or imports
  ``myst_nb`` (a top-level ``glue(...)`` statement left in a teaching cell is removed);
* every ``{glue:text}``, ``{glue:md}`` and ``{glue}`` role or directive is replaced by
  its value from the build (``_build/jupyter_execute/<page>.glue.json``, which
  jupyter-book writes when it executes the page), with the role's format applied exactly
  as myst-nb applies it;
* MyST directives become Markdown or HTML that Jupyter and Colab render: Questions,
  Objectives, Key points and Discussion boxes as headed blocks, challenges as headings,
  solutions folded in ``<details>``, other boxes as block quotes with a bold title,
  figures as images with a caption;
* cross-references become plain text or relative links: ``{doc}`` and ``{ref}`` link the
  page, ``{cite}`` gives "(Author et al., year)", ``{func}``/``{mod}``/``{class}`` give
  the name as code and ``{term}`` links the glossary.

A directive or role the exporter does not know stops it with a message that names the
page, so nothing raw reaches a learner. Without a build, or with a build older than a
page, it stops and says to run ``make book``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = Path("_build") / "jupyter_execute"
COLAB_DIR = "/content/workbook"
# Packages Colab already has, and tools that only build or test the book: the Colab cell
# installs the other requirements, unpinned, so that pip keeps Colab's own torch.
ON_COLAB_OR_TOOLING = {
    "torch", "torchvision", "numpy", "pandas", "scipy", "scikit-learn",
    "scikit-image", "matplotlib", "pillow", "tqdm", "ipykernel", "ipywidgets",
    "transformers", "tokenizers", "pytest", "pytest-timeout", "jupyter-book",
    "myst-nb", "sphinxcontrib-bibtex", "nbclient", "jupytext", "ruff",
}  # fmt: skip
HEADED = ("Questions", "Objectives", "Key points")
PY_ROLES = {"func", "meth", "mod", "class", "attr", "obj", "data", "exc"}
CITE_ROLES = {"cite", "cite:p", "cite:ps", "cite:t", "cite:ts"}
SIMPLE_BOXES = {
    "note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important",
    "seealso": "See also", "hint": "Hint", "caution": "Caution",
    "attention": "Attention",
}  # fmt: skip

ROLE = re.compile(r"\{(?P<name>[a-z][\w:-]*)\}`(?P<content>[^`]*)`")
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LABEL = re.compile(r"^\((?P<label>[\w.:-]+)\)=\s*$")
# a fence may open a list item ("2. ```python"); its body and close are indented
CODE_FENCE = re.compile(
    r"^(?P<indent>\s*(?:(?:\d+\.|[-*+])\s+)?)(?P<fence>`{3,}|~{3,})(?P<info>.*)$"
)
COLON_FENCE = re.compile(r"^(?P<fence>:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")


class ExportError(RuntimeError):
    """The book cannot be exported as it is; the message says what to change."""


# ---------------------------------------------------------------------------
# The book: pages, titles, labels, citations and the build's glue values


def front_matter(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    return yaml.safe_load(text.split("\n---", 1)[0][3:]) or {}


def notebook_pages(root: Path = ROOT) -> list[Path]:
    """Every MyST notebook page (its front matter names a kernelspec), as paths."""
    candidates = sorted(root.glob("*.md")) + sorted((root / "chapters").glob("*.md"))
    return [p for p in candidates if "kernelspec" in front_matter(p)]


def page_title(path: Path) -> str:
    in_code = False
    for line in path.read_text(encoding="utf-8").split("\n---", 1)[-1].splitlines():
        if CODE_FENCE.match(line):
            in_code = not in_code
        elif not in_code and line.startswith("# "):
            return line[2:].strip()
    return path.stem


def labels(root: Path = ROOT) -> dict[str, tuple[Path, str]]:
    """``(label)=`` targets of every page: label -> (page, title of what follows)."""
    found = {}
    for path in sorted(root.glob("*.md")) + sorted((root / "chapters").glob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = LABEL.match(line)
            if match:
                after = next((t for t in lines[i + 1 :] if t.strip()), "")
                title = after.lstrip("#").strip() if after.startswith("#") else None
                found[match["label"]] = (path, title or match["label"])
    return found


def _plain_latex(text: str) -> str:
    text = re.sub(r"\\[`'^\"~=.uvHc]\s*\{?(\w)\}?", r"\1", text)
    return text.replace("{", "").replace("}", "").replace("\\&", "&")


def citations(bib: Path) -> dict[str, str]:
    """key -> "Author et al., year" for every entry of a BibTeX file."""
    from pybtex.database import parse_file

    short = {}
    for key, entry in parse_file(str(bib)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [_plain_latex(" ".join(p.prelast_names + p.last_names)) for p in people]
        if not last:
            names = _plain_latex(entry.fields.get("organization", key))
        elif len(last) == 1:
            names = last[0]
        elif len(last) == 2:
            names = f"{last[0]} and {last[1]}"
        else:
            names = f"{last[0]} et al."
        short[key] = f"{names}, {entry.fields.get('year', 'n.d.')}"
    return short


def read_glue(root: Path, page: Path) -> dict[str, dict]:
    """The glue values jupyter-book stored when it executed ``page``: key -> output."""
    rel = page.relative_to(root).with_suffix("")
    executed = root / EXECUTED / rel.with_suffix(".ipynb")
    if not executed.is_file():
        raise ExportError(
            f"no executed notebook for {rel}.md in {EXECUTED}/: the book has not been "
            "built (or not since this page was added). Run `make book` first, then "
            "export."
        )
    if page.stat().st_mtime > executed.stat().st_mtime:
        raise ExportError(
            f"{rel}.md was changed after the last build ({executed.relative_to(root)} "
            "is older), so its glued values may be out of date. Run `make book` again, "
            "then export."
        )
    values: dict[str, dict] = {}
    # Outputs that carry scrapbook metadata (glue with display=True keeps them in place)
    for cell in nbformat.read(executed, as_version=4).cells:
        for output in cell.get("outputs", []):
            book = output.get("metadata", {}).get("scrapbook")
            if book:
                cut = len(book.get("mime_prefix", ""))
                data = {k[cut:]: v for k, v in output.get("data", {}).items()}
                values[book["name"]] = {"data": data}
    glue_file = executed.with_suffix(".glue.json")
    if glue_file.is_file():
        values.update(json.loads(glue_file.read_text(encoding="utf-8")))
    return values


@dataclass
class Book:
    """What converting a page needs to know about the whole book."""

    root: Path
    pages: list[Path]
    titles: dict[Path, str] = field(default_factory=dict)
    targets: dict[str, tuple[Path, str]] = field(default_factory=dict)
    cites: dict[str, str] = field(default_factory=dict)
    glue: dict[Path, dict[str, dict]] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path = ROOT) -> Book:
        root = root.resolve()
        pages = notebook_pages(root)
        if not pages:
            raise ExportError(f"no MyST notebook pages under {root}; is this the book?")
        all_md = sorted(root.glob("*.md")) + sorted((root / "chapters").glob("*.md"))
        bib = root / "references.bib"
        return cls(
            root=root,
            pages=pages,
            titles={p: page_title(p) for p in all_md},
            targets=labels(root),
            cites=citations(bib) if bib.is_file() else {},
            glue={p: read_glue(root, p) for p in pages},
        )


# ---------------------------------------------------------------------------
# Converting one markdown cell


def _title_target(content: str) -> tuple[str | None, str]:
    match = re.fullmatch(r"(?s)\s*(.*?)\s*<([^<>]+)>\s*", content)
    if match and match[1]:
        return " ".join(match[1].split()), match[2].strip()
    return None, content.strip()


def _best_mime(data: dict) -> tuple[str, str]:
    for mime in ("text/markdown", "text/html", "image/png", "image/jpeg", "text/plain"):
        if mime in data:
            value = data[mime]
            return mime, "".join(value) if isinstance(value, list) else value
    raise ExportError(
        f"a glued value has no mime type the exporter can show: {list(data)}"
    )


@dataclass
class PageConverter:
    book: Book
    page: Path

    def fail(self, message: str):
        rel = self.page.relative_to(self.book.root)
        raise ExportError(f"{rel}: {message}")

    # -- glue
    def glue_data(self, key: str) -> dict:
        page, name = self.page, key
        if "::" in key:
            doc, name = key.split("::", 1)
            page = (self.page.parent / doc).with_suffix(".md").resolve()
            if page not in self.book.glue:
                self.book.glue[page] = read_glue(self.book.root, page)
        values = self.book.glue.get(page, {})
        if name not in values:
            self.fail(
                f"the glue key {name!r} is not in the build's values for this page; "
                "rebuild with `make book` (or fix the key's spelling)"
            )
        return values[name]["data"]

    def glue_text(self, content: str) -> str:
        from myst_nb.core.variables import format_plain_text

        key, _, spec = content.rpartition(":") if ":" in content else (content, "", "")
        data = self.glue_data(key)
        if "text/plain" not in data:
            self.fail(
                f"the glued value {key!r} has no text/plain form for {{glue:text}}"
            )
        plain = data["text/plain"]
        plain = "".join(plain) if isinstance(plain, list) else plain
        try:
            return format_plain_text(plain, spec or "s")
        except (TypeError, ValueError) as exc:  # the failure the build reports too
            self.fail(f"cannot format glue {key!r} with {spec!r}: {exc}")

    def glue_block(self, key: str, inline: bool) -> str:
        mime, value = _best_mime(self.glue_data(key))
        if mime.startswith("image/"):
            return f'<img src="data:{mime};base64,{value.strip()}" alt="{key}"/>'
        if mime == "text/plain" and not inline:
            return f"```\n{value}\n```"
        return value.strip()

    # -- links
    def link_to(self, target: Path) -> str:
        if target in self.book.pages:
            target = target.with_suffix(".ipynb")
        return Path(os.path.relpath(target, self.page.parent)).as_posix()

    def doc_role(self, content: str) -> str:
        title, target = _title_target(content)
        if target.startswith("/"):
            path = (self.book.root / target.lstrip("/")).with_suffix(".md")
        else:
            path = (self.page.parent / target).with_suffix(".md").resolve()
        if path not in self.book.titles:
            self.fail(f"{{doc}}`{content}` names a page that does not exist")
        return f"[{title or self.book.titles[path]}]({self.link_to(path)})"

    def ref_role(self, content: str) -> str:
        title, label = _title_target(content)
        if label not in self.book.targets:
            self.fail(f"{{ref}}`{content}`: no `({label})=` target in the book")
        page, heading = self.book.targets[label]
        text = title or heading
        return f"*{text}*" if page == self.page else f"[{text}]({self.link_to(page)})"

    def cite_role(self, name: str, content: str) -> str:
        keys = [k.strip() for k in content.split(",") if k.strip()]
        missing = [k for k in keys if k not in self.book.cites]
        if missing:
            self.fail(f"{{cite}} keys not in references.bib: {missing}")
        if name.startswith("cite:t"):
            parts = [self.book.cites[k].replace(", ", " (", 1) + ")" for k in keys]
            return "; ".join(parts)
        return "(" + "; ".join(self.book.cites[k] for k in keys) + ")"

    def role(self, match: re.Match) -> str:
        name, content = match["name"], match["content"]
        short = name.split(":", 1)[1] if name.startswith("py:") else name
        if name == "glue:text":
            return self.glue_text(content)
        if name == "glue:md":
            return self.glue_block(content.rsplit(":", 1)[0], inline=True)
        if name in ("glue", "glue:", "glue:any"):
            return self.glue_block(content, inline=True)
        if name == "doc":
            return self.doc_role(content)
        if name == "ref":
            return self.ref_role(content)
        if name in CITE_ROLES:
            return self.cite_role(name, content)
        if short in PY_ROLES:
            title, target = _title_target(content)
            text = title or (
                target[1:].rsplit(".", 1)[-1] if target[0] == "~" else target
            )
            if short in ("func", "meth") and not title and not text.endswith(")"):
                text += "()"
            return f"`{text}`"
        if name == "term":
            title, term = _title_target(content)
            glossary = self.book.root / "glossary.md"
            return f"[{title or term}]({self.link_to(glossary)})"
        if name == "math":
            return f"${content}$"
        self.fail(
            f"the role {{{name}}} has no notebook form; use one of the roles "
            "in CONVENTIONS.md or teach scripts/export_notebooks.py this one"
        )

    def inline(self, text: str) -> str:
        """Replace every role in ``text``; inline code spans are left alone."""
        out, pos = [], 0
        while pos < len(text):
            role = ROLE.search(text, pos)
            code = CODE_SPAN.search(text, pos)
            if role is None and code is None:
                break
            if role is not None and (code is None or role.start() <= code.start()):
                out += [text[pos : role.start()], self.role(role)]
                pos = role.end()
            else:
                out.append(text[pos : code.end()])
                pos = code.end()
        out.append(text[pos:])
        return "".join(out)

    # -- directives
    def directive(self, name: str, arg: str, lines: list[str]) -> list[str]:
        options = {}
        while lines and OPTION.match(lines[0]):
            match = OPTION.match(lines[0])
            options[match["key"]] = match["value"].strip()
            lines = lines[1:]
        body = self.block(lines)
        if name in ("glue", "glue:", "glue:any", "glue:md"):
            return [self.glue_block(arg.strip(), inline=False)]
        if name == "glue:figure":
            caption = "\n".join(body).strip()
            figure = [self.glue_block(arg.strip(), inline=False), ""]
            return figure + ([f"*{caption}*"] if caption else [])
        if name == "figure":
            alt = options.get("alt", "")
            caption = "\n".join(body).strip()
            return [f"![{alt}]({arg.strip()})", ""] + (
                [f"*{caption}*"] if caption else []
            )
        if name == "math":
            return ["$$", *body, "$$"]
        if name in ("code-block", "code", "sourcecode"):
            return [f"```{arg.strip()}", *lines, "```"]
        if name in SIMPLE_BOXES:
            return quote([f"**{SIMPLE_BOXES[name]}**", ""] + body)
        if name != "admonition":
            self.fail(
                f"the directive {{{name}}} has no notebook form; use the forms "
                "in CONVENTIONS.md or teach scripts/export_notebooks.py this one"
            )
        title = self.inline(arg.strip())
        if not title:
            self.fail("an {admonition} without a title")
        if title in HEADED or title.startswith("Discussion"):
            return quote([f"#### {title}", ""] + body)
        if title.startswith("Challenge"):
            return [f"#### {title}", ""] + body
        if title.startswith("Solution") or "dropdown" in options.get("class", ""):
            return (
                ["<details>", f"<summary><b>{title}</b></summary>", ""]
                + body
                + [
                    "",
                    "</details>",
                ]
            )
        return quote([f"**{title}**", ""] + body)

    def block(self, lines: list[str]) -> list[str]:
        """Convert a run of MyST lines (a cell, or a directive's body) to Markdown."""
        out: list[str] = []
        prose: list[str] = []

        def flush():
            if prose:
                out.extend(self.inline("\n".join(prose)).split("\n"))
                prose.clear()

        i = 0
        while i < len(lines):
            line = lines[i]
            code, colon = CODE_FENCE.match(line), COLON_FENCE.match(line)
            if code or colon:
                flush()
                fence = (code or colon)["fence"]
                closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
                j = i + 1
                while j < len(lines) and not closing.match(lines[j]):
                    j += 1
                if j == len(lines):
                    self.fail(f"the fence {line.strip()!r} is never closed")
                body = lines[i + 1 : j]
                if colon:
                    out += self.directive(colon["name"], colon["arg"], body)
                elif code["info"].strip().startswith("{"):
                    info = re.match(r"\{([\w:-]+)\}\s*(.*)", code["info"].strip())
                    if not info:
                        self.fail(f"cannot read the directive {line.strip()!r}")
                    out += self.directive(info[1], info[2], body)
                else:
                    out += lines[i : j + 1]
                i = j + 1
                continue
            if LABEL.match(line) or line.startswith("%"):
                i += 1  # a target or a MyST comment: nothing to show
                continue
            prose.append(line)
            i += 1
        flush()
        return out


def quote(lines: list[str]) -> list[str]:
    return [f"> {line}" if line.strip() else ">" for line in lines]


# ---------------------------------------------------------------------------
# Code cells and the Colab set-up cell


def strip_glue(source: str, where: str) -> str:
    """Remove top-level ``glue(...)`` calls and ``myst_nb`` imports from a code cell."""
    if "glue" not in source and "myst_nb" not in source:
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        raise ExportError(
            f"{where}: a cell that mentions glue/myst_nb is not plain "
            "Python; move the glue into a remove-cell cell"
        ) from None
    drop: set[int] = set()
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        is_glue = isinstance(call, ast.Call) and getattr(call.func, "id", "") == "glue"
        is_import = isinstance(node, ast.ImportFrom) and node.module == "myst_nb"
        if is_glue or is_import:
            drop.update(range(node.lineno, node.end_lineno + 1))
    kept = [t for n, t in enumerate(source.splitlines(), 1) if n not in drop]
    text = "\n".join(kept).strip("\n")
    if re.search(r"\bglue\s*\(|myst_nb", text):
        raise ExportError(
            f"{where}: a teaching cell calls glue inside a block; move "
            "the glue call into a cell tagged remove-cell"
        )
    return re.sub(r"\n{3,}", "\n\n", text)


def colab_packages(root: Path = ROOT) -> list[str]:
    """Requirement names that the Colab set-up cell installs (what Colab lacks)."""
    names = []
    for line in (root / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>!~\[; ]", line.strip(), maxsplit=1)[0]
        if (
            name
            and not name.startswith("#")
            and name.lower() not in ON_COLAB_OR_TOOLING
        ):
            names.append(name)
    return names


def colab_cell(
    repo_url: str,
    branch: str,
    folder: str,
    packages: list[str],
    colab_dir: str = COLAB_DIR,
) -> nbformat.NotebookNode:
    """The first cell of every exported notebook: it installs the workbook on Colab."""
    quoted = " ".join(json.dumps(p) + "," for p in packages)
    names = textwrap.wrap(quoted, 80, break_on_hyphens=False, break_long_words=False)
    listed = "".join(f"    {line}\n" for line in names)
    source = f"""\
# Colab set-up: fetch the workbook and install what Colab lacks (a few minutes, once
# per session). On Binder or on your own machine this cell does nothing.
import os
import subprocess
import sys

REPOSITORY = {json.dumps(repo_url)}
BRANCH = {json.dumps(branch)}
PACKAGES = [
{listed}]
if "google.colab" in sys.modules:
    WORKBOOK = {json.dumps(colab_dir)}
    if not os.path.isdir(WORKBOOK):
        clone = ["git", "clone", "--depth", "1", "--branch", BRANCH, REPOSITORY]
        subprocess.run([*clone, WORKBOOK], check=True)
        pip = [sys.executable, "-m", "pip", "install", "-q"]
        subprocess.run([*pip, *PACKAGES], check=True)
    sys.path.insert(0, WORKBOOK)
    os.chdir(os.path.join(WORKBOOK, {json.dumps(folder)}))"""
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["colab-setup"]
    return cell


# ---------------------------------------------------------------------------
# One page, and the whole book


def export_page(book: Book, page: Path, colab: nbformat.NotebookNode | None):
    """The page as a notebook, ready to write (no outputs; run it yourself)."""
    converter = PageConverter(book, page)
    rel = page.relative_to(book.root).as_posix()
    nb = jupytext.read(page)
    cells = [colab] if colab is not None else []
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            text = "\n".join(converter.block(cell.source.splitlines())).strip("\n")
            if text:
                cells.append(nbformat.v4.new_markdown_cell(text))
        elif cell.cell_type == "code":
            source = strip_glue(cell.source, f"{rel}, code cell {index}")
            if source.strip():
                new = nbformat.v4.new_code_cell(source)
                if tags:
                    new.metadata["tags"] = list(tags)
                cells.append(new)
        else:
            cells.append(cell)
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata["kernelspec"] = dict(nb.metadata.get("kernelspec", {}))
    out.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(out.cells):
        cell["id"] = f"cell-{i}"
    return out


def export_book(
    root: Path, out: Path, repo_url: str, branch: str, colab_dir: str = COLAB_DIR
) -> list[Path]:
    """Write ``out/<page>.ipynb`` for every notebook page; return the files written."""
    book = Book.load(root)
    packages = colab_packages(book.root)
    written = []
    for page in book.pages:
        rel = page.relative_to(book.root)
        folder = rel.parent.as_posix() if rel.parent != Path(".") else ""
        colab = colab_cell(repo_url, branch, folder, packages, colab_dir)
        nb = export_page(book, page, colab)
        target = out / rel.with_suffix(".ipynb")
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(nb)
        nbformat.write(nb, target)
        written.append(target)
    return written


def default_repository(root: Path = ROOT) -> tuple[str, str]:
    config = yaml.safe_load((root / "_config.yml").read_text())
    repo = config.get("repository", {})
    url = repo.get("url", "").rstrip("/")
    return (url + ".git" if url and not url.endswith(".git") else url), repo.get(
        "branch", "main"
    )


def main(argv: list[str] | None = None) -> int:
    url, branch = default_repository()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write into")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the book's root folder"
    )
    parser.add_argument("--repo-url", default=url, help=f"cloned on Colab ({url})")
    parser.add_argument("--branch", default=branch, help=f"branch cloned ({branch})")
    parser.add_argument("--colab-dir", default=COLAB_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        written = export_book(
            args.root, args.out, args.repo_url, args.branch, args.colab_dir
        )
    except ExportError as exc:
        print(f"export_notebooks: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
