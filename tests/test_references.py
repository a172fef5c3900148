"""references.bib parses, has no duplicate keys, and holds every key the pages cite."""

import re
from pathlib import Path

import pybtex.database

ROOT = Path(__file__).resolve().parents[1]


def test_bibliography_parses_and_covers_every_citation():
    text = (ROOT / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", text, flags=re.M)
    assert len(keys) == len(set(keys)), "references.bib has a key twice"
    entries = pybtex.database.parse_string(text, "bibtex").entries
    assert set(entries) == set(keys)
    pages = list((ROOT / "chapters").glob("*.md")) + list(ROOT.glob("*.md"))
    cited = set()
    for page in pages:
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text()):
            cited.update(k.strip() for k in group.split(","))
    assert not cited - set(entries), (
        f"cited but not in references.bib: {cited - set(entries)}"
    )
