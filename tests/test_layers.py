"""The library's layers: imports only go down (stats < evidence < analyses < figures < io < cli).

Read from the source with ``ast``, not by importing: every ``ketamine_meta`` import of a module
must name a module of its own layer or of a layer below, and the statistics engine imports
nothing of the project outside ``stats``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "src" / "ketamine_meta"
LAYERS = ["stats", "evidence", "analyses", "figures", "io", "cli"]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [m for m in found if m == "ketamine_meta" or m.startswith("ketamine_meta.")]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def test_every_module_belongs_to_a_layer():
    assert {p.parent.name for p in MODULES} == set(LAYERS)
    assert [p.name for p in PACKAGE.glob("*.py")] == ["__init__.py"]


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_only_go_down(path):
    own = LAYERS.index(path.parent.name)
    for module in _imports(path):
        layer = _layer(module)
        assert layer is not None, f"{path.name} imports the package root {module}"
        assert LAYERS.index(layer) <= own, f"{path.relative_to(PACKAGE)} imports up: {module}"


def test_the_engine_is_generic():
    """stats imports nothing of the project but stats, and never names ketamine's vocabulary."""
    for path in (PACKAGE / "stats").glob("*.py"):
        assert all(_layer(m) == "stats" for m in _imports(path)), path.name
        text = path.read_text().lower()
        for word in ("esketamine", "arketamine", "racemic", "data/raw"):
            assert word not in text, f"{path.name} mentions {word}"
