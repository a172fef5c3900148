"""The package as a whole: its docstring is the one place that lists the public API."""

import importlib
import pkgutil
import re
import subprocess
import sys

import trustworthy_lib

PUBLIC_MODULES = sorted(
    m.name
    for m in pkgutil.iter_modules(trustworthy_lib.__path__)
    if not m.name.startswith("_") and not m.ispkg
)


def test_every_public_module_has_all_and_its_names_exist():
    for name in PUBLIC_MODULES:
        module = importlib.import_module(f"trustworthy_lib.{name}")
        assert hasattr(module, "__all__"), f"trustworthy_lib.{name} has no __all__"
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, (
            f"trustworthy_lib.{name}.__all__ lists missing names {missing}"
        )


def test_package_docstring_lists_every_module_and_public_name():
    doc = trustworthy_lib.__doc__
    for name in PUBLIC_MODULES:
        header = f":mod:`trustworthy_lib.{name}`"
        assert header in doc, f"the package docstring does not describe {name}"
        start = doc.index(header)
        end = min(
            i
            for i in (doc.find("* :mod:", start + 1), doc.find("\n\n", start))
            if i > 0
        )
        listed = set(re.findall(r"``(\w+)``", doc[start:end]))
        module = importlib.import_module(f"trustworthy_lib.{name}")
        assert set(module.__all__) == listed, name


def test_import_changes_no_global_state():
    code = (
        "import random, numpy as np\n"
        "before = (random.getstate(), np.random.get_state()[1].tobytes())\n"
        "import trustworthy_lib\n"
        "after = (random.getstate(), np.random.get_state()[1].tobytes())\n"
        "assert before == after\n"
        "assert 'torch' not in __import__('sys').modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
