"""Read a data package directory: the one piece of file reading the entry points share.

The statistics modules stay free of I/O; the command line and the workflow's ``validate``
script both need the descriptor and the text of every table it lists.
"""

from __future__ import annotations

import json
from pathlib import Path


def read_package_dir(root: str | Path) -> tuple[dict, dict[str, str]]:
    """Return the parsed ``datapackage.json`` of ``root`` and the text of each listed table.

    Tables that do not exist are left out, so that validation reports them as missing.
    The UTF-8 byte-order mark some spreadsheet programs write is dropped.
    """
    root = Path(root)
    descriptor = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    texts = {
        r["path"]: (root / r["path"]).read_text(encoding="utf-8-sig")
        for r in descriptor["resources"]
        if (root / r["path"]).exists()
    }
    return descriptor, texts
