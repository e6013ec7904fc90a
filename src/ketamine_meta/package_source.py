"""Locate, verify and unpack a copy of the data package (the ``pull`` stage's logic).

A data package is a ``datapackage.json`` plus the files it lists. It can be read from a
directory, from a ``.tar.gz`` archive on disk, or from a released archive at an http(s) URL;
an archive must match the configured SHA-256 before anything is written.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
from collections.abc import Mapping
from typing import Literal

SourceKind = Literal["directory", "archive", "url"]

#: Documentation files copied along with the tables when present.
PACKAGE_DOCS = ("README.md", "CHANGELOG.md")
DESCRIPTOR = "datapackage.json"


class PackageSourceError(ValueError):
    """The configured source cannot be used (bad checksum, missing file, unsafe archive)."""


def source_kind(source: str) -> SourceKind:
    """Classify a configured ``data.source`` value."""
    if source.startswith(("http://", "https://")):
        return "url"
    if source.endswith((".tar.gz", ".tgz")):
        return "archive"
    return "directory"


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def check_sha256(data: bytes, expected: str | None, what: str) -> None:
    """Raise :class:`PackageSourceError` unless ``data`` hashes to ``expected``."""
    if expected is None:
        raise PackageSourceError(f"{what}: data.sha256 must be set to verify an archive")
    actual = sha256_hex(data)
    if actual != expected.lower():
        raise PackageSourceError(
            f"{what}: SHA-256 mismatch: expected {expected.lower()}, got {actual}; "
            "nothing was written"
        )


def package_members(descriptor_bytes: bytes) -> list[str]:
    """Relative paths of every file the descriptor lists, descriptor first."""
    descriptor = json.loads(descriptor_bytes)
    return [DESCRIPTOR] + [r["path"] for r in descriptor["resources"]]


def unpack_archive(data: bytes, what: str) -> dict[str, bytes]:
    """Read a ``.tar.gz`` archive into ``{relative path: bytes}``.

    A single top-level directory (as ``build_archive`` writes) is stripped. Links, absolute
    paths and ``..`` components are refused, so a hostile archive cannot write elsewhere.
    """
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                if member.isdir():
                    continue
                name = posixpath.normpath(member.name)
                if not member.isfile() or name.startswith(("/", "..")) or "/../" in name:
                    raise PackageSourceError(f"{what}: unsafe archive member {member.name!r}")
                files[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PackageSourceError(f"{what}: not a readable .tar.gz archive ({exc})") from exc
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1 and all("/" in name for name in files):
        files = {name.split("/", 1)[1]: content for name, content in files.items()}
    return files


def select_package(files: Mapping[str, bytes], what: str) -> dict[str, bytes]:
    """Keep the descriptor, its resources and the package docs; fail if a resource is missing."""
    if DESCRIPTOR not in files:
        raise PackageSourceError(f"{what}: no {DESCRIPTOR}")
    wanted = package_members(files[DESCRIPTOR])
    missing = [m for m in wanted if m not in files]
    if missing:
        raise PackageSourceError(f"{what}: {DESCRIPTOR} lists files that are absent: {missing}")
    return {name: files[name] for name in [*wanted, *PACKAGE_DOCS] if name in files}


def build_archive(files: Mapping[str, bytes], root: str) -> bytes:
    """Write ``files`` under ``root/`` into a byte-reproducible ``.tar.gz``.

    Members are sorted, owned by uid/gid 0 with mode 0644 and mtime 0, and the gzip header
    carries no timestamp, so the same files always give the same SHA-256.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(files[name])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)
