"""Every library module has a test file named after it that imports it (issue 23).

The file of ``ketamine_meta/<layer>/<module>.py`` is ``tests/test_<module>.py`` unless
:data:`EXCEPTIONS` names another: where two layers hold a module of the same name, or where
the plain name is already taken by the end-to-end tests of a command of that name. A new
module without tests fails here, named.
"""

from __future__ import annotations

import ast
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "src" / "ketamine_meta"
TESTS = REPO / "tests"

#: Modules (below ``ketamine_meta``) whose test file is not ``test_<module>.py``.
EXCEPTIONS = {
    # Two layers, one name.
    "stats.network": "test_network.py",
    "analyses.network": "test_network_analysis.py",
    # The command-line halves of commands whose end-to-end tests hold the plain name
    # (test_new_trial.py, test_registry_import.py run the commands through cli.commands).
    "cli.new_trial": "test_cli_new_trial.py",
    "cli.registry_import": "test_cli_registry_import.py",
}


def library_modules() -> list[str]:
    """Every module below ``ketamine_meta`` (``layer.module``), packages' ``__init__`` aside."""
    return sorted(
        ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    )


def expected_test_file(module: str) -> str:
    """The name of the test file of ``module``."""
    return EXCEPTIONS.get(module, f"test_{module.rpartition('.')[2]}.py")


@cache
def imported_modules(path: Path) -> frozenset[str]:
    """The ``ketamine_meta`` modules ``path`` imports (``layer.module``), by its import lines."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from ketamine_meta.stats import tau2`` imports the module ``stats.tau2``.
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    prefix = "ketamine_meta."
    return frozenset(n.removeprefix(prefix) for n in names if n.startswith(prefix))


@pytest.mark.parametrize("module", library_modules())
def test_every_module_has_a_test_file_that_imports_it(module):
    path = TESTS / expected_test_file(module)
    assert path.is_file(), (
        f"ketamine_meta.{module} has no test file: add tests/{path.name} (or name the file "
        f"that tests it in EXCEPTIONS of {Path(__file__).name})"
    )
    assert module in imported_modules(path), (
        f"tests/{path.name} does not import ketamine_meta.{module}: the module's tests import it"
    )


def test_modules_of_one_name_in_two_layers_are_both_named():
    """``test_network.py`` alone would not say which ``network`` it tests."""
    names = Counter(m.rpartition(".")[2] for m in library_modules())
    shared = sorted(m for m in library_modules() if names[m.rpartition(".")[2]] > 1)
    assert [m for m in shared if m not in EXCEPTIONS] == []


def test_every_exception_is_needed():
    """Each entry names a module that exists, under a name other than the plain one."""
    modules = set(library_modules())
    assert sorted(set(EXCEPTIONS) - modules) == [], "EXCEPTIONS names modules that are gone"
    names = Counter(m.rpartition(".")[2] for m in modules)
    plain = [
        m
        for m, file in EXCEPTIONS.items()
        if file == f"test_{m.rpartition('.')[2]}.py" and names[m.rpartition(".")[2]] == 1
    ]
    assert plain == [], "these modules' files have the plain name: drop them from EXCEPTIONS"


def test_the_import_reader_sees_every_form_of_import(tmp_path):
    source = tmp_path / "test_example.py"
    source.write_text(
        "import ketamine_meta.stats.tau2\n"
        "import ketamine_meta.io.logs as logs\n"
        "from ketamine_meta.analyses import dose, safety\n"
        "from ketamine_meta.figures.labels import p_text\n"
        "from conftest import REPO\n"
        "def f():\n    from ketamine_meta.cli.errors import UsageError\n"
    )
    found = imported_modules(source)
    for module in (
        "stats.tau2",
        "io.logs",
        "analyses.dose",
        "analyses.safety",
        "figures.labels",
        "cli.errors",
    ):
        assert module in found
    assert "analyses.pooling" not in found
