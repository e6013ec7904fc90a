"""Read a data package directory: the file reading the entry points share.

The statistics modules stay free of I/O; the command line and the workflow (the ``pull``
inputs and script, the ``validate`` script) read package directories through these.
"""

from __future__ import annotations

import json
from pathlib import Path

from ketamine_meta.package_source import DESCRIPTOR, PACKAGE_DOCS, package_members


def read_package_dir(root: str | Path) -> tuple[dict, dict[str, str]]:
    """Return the parsed ``datapackage.json`` of ``root`` and the text of each listed table.

    Tables that do not exist are left out, so that validation reports them as missing.
    The UTF-8 byte-order mark some spreadsheet programs write is dropped.
    """
    root = Path(root)
    descriptor = json.loads((root / DESCRIPTOR).read_text(encoding="utf-8"))
    texts = {
        r["path"]: (root / r["path"]).read_text(encoding="utf-8-sig")
        for r in descriptor["resources"]
        if (root / r["path"]).exists()
    }
    return descriptor, texts


def local_package_files(root: str | Path) -> list[Path]:
    """Paths of a package directory's files: descriptor, every listed table, and the docs present.

    Listed tables are returned whether or not they exist, so that a missing one is reported
    by whoever reads it; a directory without a descriptor gives an empty list.
    """
    root = Path(root)
    descriptor = root / DESCRIPTOR
    if not descriptor.exists():
        return []
    docs = [root / d for d in PACKAGE_DOCS if (root / d).exists()]
    return [root / m for m in package_members(descriptor.read_bytes())] + docs
