"""Progress bars render in Jupyter: tqdm.auto with ipywidgets, no "IProgress not found".

The library's long loops show a ``tqdm`` bar. Imported from ``tqdm.auto``, the bar is a
Jupyter widget in a notebook and plain text in a terminal; the widget needs
``ipywidgets`` (pinned in requirements.txt), without which Jupyter prints the warning
"IProgress not found. Please update jupyter and ipywidgets."
"""

from __future__ import annotations

import re
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]


def test_the_library_imports_tqdm_auto_only():
    plain = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "trustworthy_lib").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"\s*(from tqdm import|import tqdm\b)", line)
    ]
    assert not plain, f"use `from tqdm.auto import tqdm` here: {plain}"


def test_ipywidgets_is_pinned():
    pins = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^ipywidgets==\S+", pins, re.MULTILINE)


def test_a_progress_bar_in_a_kernel_is_a_widget_without_a_warning(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc='demo'):\n    "
            "pass"
        )
    ]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": "."}}
    )
    client.execute()
    outputs = nb.cells[0].outputs
    text = " ".join(str(o.get("text", "")) + str(o.get("data", "")) for o in outputs)
    assert "IProgress not found" not in text, text
    mimes = {m for o in outputs for m in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes, outputs
