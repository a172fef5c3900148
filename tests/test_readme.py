"""README.md says what CI runs, and its chapter-time table is complete and adds up."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def ci_commands() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [t.strip() for t in lines if t.strip().startswith("make ")]


def readme_ci_commands() -> list[str]:
    section = README.split("### What CI runs", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "README's 'What CI runs' section has no ```bash block"
    return [t.split("#", 1)[0].strip() for t in block[1].splitlines() if t.strip()]


def chapter_table() -> dict[str, list[str]]:
    """README's chapter table: {'0': cells, ..., '8a': cells, 'total': cells}."""
    rows = {}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        separator = re.fullmatch(r":?-+:?", cells[0])
        if line.startswith("|") and len(cells) == 6 and not separator:
            key = cells[0] or cells[1].strip("*")
            rows[key] = cells
    rows.pop("#", None)
    return rows


def test_readme_says_exactly_what_ci_runs():
    assert ci_commands() == readme_ci_commands()
    assert "make test" in ci_commands()
    assert any("check-claims" in c and "SEEDS=1" in c for c in ci_commands())


def test_every_chapter_has_a_row_with_measured_times():
    rows = chapter_table()
    missing, unmeasured = [], []
    for path in sorted((ROOT / "chapters").glob("*.md")):
        number = path.stem.split("-")[0].lstrip("0") or "0"
        if number not in rows:
            missing.append(number)
        elif not all(re.fullmatch(r"\d+", c) for c in rows[number][3:5]):
            unmeasured.append(number)
    assert not missing, f"README's chapter table has no row for chapters {missing}"
    assert not unmeasured, (
        f"README's chapter table: fill in the measured seconds (first run, rerun) of "
        f"chapters {unmeasured}"
    )


def test_the_total_row_is_the_sum_of_the_rows():
    rows = chapter_table()
    assert "total" in rows, "README's chapter table needs a **total** row"
    for column, name in ((3, "first run"), (4, "rerun")):
        cells = {k: c[column] for k, c in rows.items()}
        blank = [k for k, c in cells.items() if not re.fullmatch(r"\d+", c)]
        assert not blank, f"README's chapter table: fill in '{name}' for rows {blank}"
        values = [int(c) for k, c in cells.items() if k != "total"]
        assert rows["total"][column] == str(sum(values)), (
            f"README: the total of '{name}' should be {sum(values)}"
        )
