"""The audit notebooks run top to bottom on the committed results."""

from __future__ import annotations

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["audit.py", "audit_smd_24h.py"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path):
    notebook = jupytext.read(path)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    ).execute()
    errors = [
        o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
    assert nbformat.validate(notebook) is None
    if path.stem == "audit":
        # The forest plots and relapse curves are shown as images (they were missing once).
        images = [
            o
            for c in notebook.cells
            for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})
        ]
        assert len(images) == 3
