"""The results manifest: the SHA-256 of every output the pipeline wrote, to detect edits by hand.

A committed table edited by hand is newer than the inputs of the rules downstream of it, so
Snakemake would take it as input and propagate it into the landing page, the claims and the
figures. The workflow's last rule writes ``results/manifest.tsv`` (path, SHA-256, size; one
line each, sorted by path), and ``tools/run_pipeline.py`` (``make``) checks it before a run:
a listed file whose bytes differ is named and rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

#: Where the workflow writes the manifest, relative to the working directory.
MANIFEST = Path("results/manifest.tsv")
HEADER = "path\tsha256\tbytes"


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as 64 lowercase hex digits."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest_text(paths: Iterable[str]) -> str:
    """The manifest of ``paths`` (relative to the working directory), sorted by path."""
    lines = [
        f"{path}\t{sha256_file(path)}\t{Path(path).stat().st_size}" for path in sorted(set(paths))
    ]
    return "\n".join([HEADER, *lines]) + "\n"


def edited_files(manifest: str | Path = MANIFEST) -> list[str]:
    """Files listed in ``manifest`` that exist but no longer have the bytes the pipeline wrote.

    A missing file is not listed (Snakemake rebuilds a missing output by itself), and neither
    is anything when there is no manifest yet (a first run builds everything).
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        return []
    edited = []
    for line in manifest.read_text(encoding="utf-8").splitlines()[1:]:
        path, sha256, _ = line.split("\t")
        if Path(path).is_file() and sha256_file(path) != sha256:
            edited.append(path)
    return edited
