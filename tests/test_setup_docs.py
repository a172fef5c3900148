"""setup.md's "just the notebooks" path names commands that exist and agree with make.

The path is for learners without ``make`` or ``npm``: create a venv, pip-install the
pinned requirements and the package as ``make env`` does, then start JupyterLab. The
test reads the commands from setup.md and from the Makefile's ``env`` recipe and checks
that they install the same things in the same way, that every file they name exists,
and that ``jupyter lab`` comes from a package they install.
"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Just the notebooks"


def notebook_commands() -> list[list[str]]:
    text = (ROOT / "setup.md").read_text()
    assert SECTION in text, f"setup.md has no '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, f"the '{SECTION}' section of setup.md has no ```bash block"
    return [shlex.split(line) for line in block[1].splitlines() if line.strip()]


def make_env_commands() -> list[list[str]]:
    """The ``$(STAMP)`` recipe of the Makefile, with its variables filled in."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(STAMP\):.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert recipe, "the Makefile has no $(STAMP) recipe (the install of make env)"
    values = {"$(PY)": ".venv/bin/python", "$(VENV)": ".venv", "$(PYTHON)": "python3"}
    commands = []
    for line in recipe[1].splitlines():
        line = line.strip().split("||")[-1].strip()
        for name, value in values.items():
            line = line.replace(name, value)
        commands.append(shlex.split(line))
    return commands


def pip_installs(commands: list[list[str]]) -> list[list[str]]:
    return [c for c in commands if c[1:4] == ["-m", "pip", "install"]]


def test_the_path_needs_neither_make_nor_npm():
    programs = {c[0] for c in notebook_commands()}
    assert not programs & {"make", "npm", "npx", "sudo"}, programs


def test_the_venv_and_installs_are_those_of_make_env():
    ours, make = notebook_commands(), make_env_commands()
    assert ["python3", "-m", "venv", ".venv"] in ours
    assert ["python3", "-m", "venv", ".venv"] in make
    ours_pip, make_pip = pip_installs(ours), pip_installs(make)
    assert len(ours_pip) == len(make_pip) == 2, (ours_pip, make_pip)
    for mine, theirs in zip(ours_pip, make_pip, strict=True):
        wanted = [a for a in theirs if a != "--quiet"]
        assert mine[: len(wanted)] == wanted, f"setup.md: {mine}; Makefile: {theirs}"
    extras = ours_pip[0][len([a for a in make_pip[0] if a != "--quiet"]) :]
    assert extras == ["jupyterlab"], f"the only addition should be JupyterLab: {extras}"


def test_the_files_named_exist_and_jupyterlab_is_what_binder_installs():
    for command in notebook_commands():
        for flag, value in itertools.pairwise(command):
            if flag in ("-r", "-c"):
                assert (ROOT / value).is_file(), f"setup.md names {value}: missing"
    launch = [c for c in notebook_commands() if c[0].endswith("jupyter")]
    assert launch and launch[-1][:2] == [".venv/bin/jupyter", "lab"], launch
    assert (ROOT / launch[-1][2]).is_dir(), f"no folder {launch[-1][2]}"
    binder = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- jupyterlab\s*$", binder, re.MULTILINE)
    for name in ("jupytext", "ipywidgets"):  # opens .md as notebooks; progress bars
        assert re.search(
            rf"^{name}==", (ROOT / "requirements.txt").read_text(), re.MULTILINE
        )
