"""Build the released data archive: dist/ketamine-meta-data-X.Y.Z.tar.gz and its SHA-256.

X.Y.Z is the data package's version (data/raw/datapackage.json). The archive holds the
descriptor, every table it lists and the package docs under one top-level folder, and is
byte-reproducible (sorted members, fixed owner, mode and time; no gzip timestamp), so the same
package always gives the same checksum. Point `data.source` at the archive (a path or its
http(s) URL) and `data.sha256` at the checksum to run the pipeline on the release.

Usage: python tools/release_data.py [--out DIR]   (default dist/)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ketamine_meta.evidence.package_files import read_local_package
from ketamine_meta.evidence.package_source import (
    PackageSourceError,
    build_archive,
    select_package,
    sha256_hex,
)

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"


def release(out: Path) -> tuple[Path, str]:
    """Write the archive and ``NAME.sha256`` into ``out``; return the archive and its digest."""
    version = json.loads((RAW / "datapackage.json").read_text())["version"]
    # Read as pull reads a directory: a symbolic link is refused, never followed.
    files = read_local_package(RAW)
    name = f"ketamine-meta-data-{version}"
    archive = build_archive(select_package(files, str(RAW)), name)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.tar.gz"
    path.write_bytes(archive)
    digest = sha256_hex(archive)
    (out / f"{name}.tar.gz.sha256").write_text(f"{digest}  {path.name}\n")
    return path, digest


if __name__ == "__main__":
    out = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else ROOT / "dist"
    try:
        path, digest = release(out)
    except PackageSourceError as exc:
        sys.exit(f"make release: {exc}")
    print(f"{path}\nsha256 {digest}\nconfig: data.source: {path}  data.sha256: {digest}")
