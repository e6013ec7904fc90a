"""Build the released data archive: dist/ketamine-meta-data-X.Y.Z.tar.gz, its SHA-256 and a record.

X.Y.Z is the data package's version (data/raw/datapackage.json). The archive holds the
descriptor, every table it lists and the package docs under one top-level folder, and is
byte-reproducible (sorted members, fixed owner, mode and time; no gzip timestamp), so the same
package always gives the same checksum. Point `data.source` at the archive (a path or its
http(s) URL) and `data.sha256` at the checksum to run the pipeline on the release.

The release is also recorded, to be committed, in data/releases/ketamine-meta-data-X.Y.Z.json
(ketamine_meta.analyses.changes): the version, the archive's SHA-256, the commit it was built
from (and whether data/raw had uncommitted changes), and a snapshot of the headline results as
that commit holds them in results/ plus a fingerprint of each trial's rows in the package. The
pipeline's rule what_changed compares the current results with the newest record. Nothing is
written unless everything could be read.

Usage: python tools/release_data.py [--out DIR] [--records DIR]
(defaults dist/ and data/releases/; the tests write both to temporary folders)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ketamine_meta.analyses.changes import (
    RELEASE_DIR,
    SnapshotTables,
    record_json,
    release_record,
    release_record_name,
    snapshot,
    text_table,
)
from ketamine_meta.evidence.datapackage import CANONICAL_SCHEMA, DataPackageError, validate_package
from ketamine_meta.evidence.package_files import (
    read_canonical_schema,
    read_local_package,
    read_package_dir,
)
from ketamine_meta.evidence.package_source import (
    PackageSourceError,
    build_archive,
    select_package,
    sha256_hex,
)
from ketamine_meta.io.outputs import REGISTRY_FILE, TABLE_DIR
from ketamine_meta.io.tables import to_csv_text

ROOT = Path(__file__).resolve().parents[1]


class ReleaseError(Exception):
    """The release cannot be recorded (a result missing from the commit)."""


def _git(root: Path, *args: str) -> str | None:
    """Output of ``git ARGS`` in ``root``; ``None`` if git is absent or the command fails."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, encoding="utf-8"
        )
    except FileNotFoundError:
        return None
    return done.stdout if done.returncode == 0 else None


def _built_from(root: Path) -> tuple[str | None, bool | None]:
    """The commit checked out in ``root`` and whether data/raw differs from it.

    Untracked files in data/raw count as a difference; ``(None, None)`` outside a git
    repository.
    """
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = _git(root, "status", "--porcelain", "--", "data/raw")
    return commit.strip(), bool(status and status.strip())


def _committed_text(root: Path, commit: str | None, path: str) -> str:
    """The text of ``path`` (relative to ``root``) as ``commit`` holds it.

    Outside a git repository (``commit`` is ``None``), the working tree's file.
    """
    if commit is None:
        file = root / path
        if not file.is_file():
            raise ReleaseError(f"{file}: no such file; run make before releasing")
        return file.read_text(encoding="utf-8")
    text = _git(root, "show", f"{commit}:./{path}")
    if text is None:
        raise ReleaseError(
            f"{path}: not in commit {commit[:7]}; run make and commit results/ before releasing"
        )
    return text


def _results_snapshot(root: Path, commit: str | None, raw: Path) -> dict:
    """The commit's headline results and the released package's trial fingerprints."""
    # The tables as the commit's registry of outputs names them.
    names = SnapshotTables.from_registry(json.loads(_committed_text(root, commit, REGISTRY_FILE)))
    tables = {
        stem: text_table(_committed_text(root, commit, f"{TABLE_DIR}/{stem}.csv"))
        for stem in names.stems
    }
    # The package as the pipeline's validate stage writes it, so that the fingerprints match
    # those the rule what_changed takes of data/processed/validated.
    canonical = read_canonical_schema(root / CANONICAL_SCHEMA)
    typed = validate_package(*read_package_dir(raw), canonical)
    package = {name: text_table(to_csv_text(frame)) for name, frame in typed.items()}
    return snapshot(tables, package, names)


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def release(out: Path, records: Path | None = None, root: Path = ROOT) -> tuple[Path, str, Path]:
    """Write the archive and ``NAME.sha256`` into ``out`` and the record into ``records``.

    Parameters
    ----------
    out
        Folder of the archive and its checksum.
    records
        Folder of the release record (default ``root/data/releases``).
    root
        The repository: its data/raw is released, its commit's results/ recorded.

    Returns
    -------
    tuple
        The archive's path, its SHA-256 and the record's path.
    """
    raw = root / "data" / "raw"
    version = json.loads((raw / "datapackage.json").read_text())["version"]
    # Read as pull reads a directory: a symbolic link is refused, never followed.
    files = read_local_package(raw)
    name = f"ketamine-meta-data-{version}"
    archive = build_archive(select_package(files, str(raw)), name)
    digest = sha256_hex(archive)
    commit, dirty = _built_from(root)
    record = release_record(
        version, f"{name}.tar.gz", digest, commit, dirty, _results_snapshot(root, commit, raw)
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.tar.gz"
    path.write_bytes(archive)
    (out / f"{name}.tar.gz.sha256").write_text(f"{digest}  {path.name}\n")
    record_path = (records or root / RELEASE_DIR) / release_record_name(version)
    _write_atomically(record_path, record_json(record))
    return path, digest, record_path


if __name__ == "__main__":
    out = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else ROOT / "dist"
    records = Path(sys.argv[sys.argv.index("--records") + 1]) if "--records" in sys.argv else None
    try:
        path, digest, record_path = release(out, records)
    except (PackageSourceError, DataPackageError, ReleaseError) as exc:
        sys.exit(f"make release: {exc}")
    print(
        f"{path}\nsha256 {digest}\nconfig: data.source: {path}  data.sha256: {digest}\n"
        f"recorded in {record_path} (commit it)"
    )
