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
import re
import tarfile
import time
import urllib.request
import zlib
from collections.abc import Mapping
from typing import Literal

SourceKind = Literal["directory", "archive", "url"]

#: Documentation files copied along with the tables when present.
PACKAGE_DOCS = ("README.md", "CHANGELOG.md", "LICENSE.md")
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


#: Largest descriptor accepted (bytes): a datapackage.json is a few dozen KiB.
MAX_DESCRIPTOR_BYTES = 4 * 2**20
#: Largest single file and largest whole package accepted from an archive or a URL (bytes).
MAX_MEMBER_BYTES = 256 * 2**20
MAX_PACKAGE_BYTES = 512 * 2**20
#: A download that has not finished within this many seconds is abandoned, however steadily
#: bytes trickle in (a per-read timeout alone never fires on a slow drip).
DOWNLOAD_DEADLINE_S = 300.0


def parse_descriptor(data: bytes | str, what: str) -> dict:
    """The parsed ``datapackage.json``, refused with a located message if it is not usable.

    Raises
    ------
    PackageSourceError
        If it is too large, not UTF-8, not valid JSON (line and column named), nested too
        deeply to parse, has a key twice in one object, or lacks a ``resources`` list whose
        entries each have a safe ``path`` (:func:`safe_member_path`).
    """
    where = f"{what}: {DESCRIPTOR}" if what else DESCRIPTOR
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_DESCRIPTOR_BYTES:
        raise PackageSourceError(f"{where}: {len(raw)} bytes, more than a descriptor can be")
    try:
        descriptor = json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_object_once_each)
    except UnicodeDecodeError as exc:
        raise PackageSourceError(f"{where}: not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise PackageSourceError(
            f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except RecursionError as exc:
        raise PackageSourceError(
            f"{where}: arrays or objects nested too deeply to read; a descriptor is a few "
            "levels deep"
        ) from exc
    except _RepeatedKeyError as exc:
        raise PackageSourceError(
            f"{where}: key {exc.key!r} appears twice in one object (readers would disagree on "
            "its value)"
        ) from exc
    resources = descriptor.get("resources") if isinstance(descriptor, dict) else None
    if not isinstance(resources, list) or not resources:
        raise PackageSourceError(f"{where}: no 'resources' list")
    for i, resource in enumerate(resources):
        if not isinstance(resource, dict) or not isinstance(resource.get("path"), str):
            raise PackageSourceError(f"{where}: resources[{i}] has no 'path' string")
        safe_member_path(resource["path"], f"{where}: resources[{i}].path")
    return descriptor


class _RepeatedKeyError(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object_once_each(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object as a dict, refusing a key given twice (``json`` keeps the last)."""
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise _RepeatedKeyError(key)
        obj[key] = value
    return obj


def safe_member_path(path: str, what: str) -> str:
    """``path`` if it is a relative, normalized path inside the package; else refuse.

    Refused: empty paths, absolute paths (``/x``, ``C:x``), backslashes, ``..`` components,
    and paths that normalize to something else (``./x``, ``a//b``), so that no descriptor or
    archive can make ``pull`` or ``validate`` read or write outside the package directory.
    """
    unsafe = (
        not path
        or path.startswith("/")
        or "\\" in path
        or re.match(r"^[A-Za-z]:", path) is not None
        or ".." in path.split("/")
        or posixpath.normpath(path) != path
        or path == DESCRIPTOR
    )
    if unsafe:
        raise PackageSourceError(
            f"{what}, value {path!r}: a resource path must be relative, normalized and inside "
            "the package; nothing was read or written"
        )
    return path


def package_members(descriptor_bytes: bytes, what: str = "") -> list[str]:
    """Relative paths of every file the descriptor lists, descriptor first (all checked safe)."""
    descriptor = parse_descriptor(descriptor_bytes, what)
    return [DESCRIPTOR] + [r["path"] for r in descriptor["resources"]]


def unpack_archive(data: bytes, what: str) -> dict[str, bytes]:
    """Read a ``.tar.gz`` archive into ``{relative path: bytes}``.

    A single top-level directory (as ``build_archive`` writes) is stripped. Links, absolute
    paths and ``..`` components are refused, so a hostile archive cannot write elsewhere.
    """
    files: dict[str, bytes] = {}
    total = 0
    try:
        # Streamed member by member: sizes are checked from the headers before any member's
        # content is read, so a small archive with a huge member is refused unread.
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                name = posixpath.normpath(member.name)
                if not member.isfile() or name.startswith(("/", "..")) or "/../" in name:
                    raise PackageSourceError(f"{what}: unsafe archive member {member.name!r}")
                total += member.size
                if member.size > MAX_MEMBER_BYTES or total > MAX_PACKAGE_BYTES:
                    raise PackageSourceError(
                        f"{what}: archive member {member.name!r} is {member.size} bytes; "
                        f"members are limited to {MAX_MEMBER_BYTES} bytes and the package to "
                        f"{MAX_PACKAGE_BYTES}; nothing was written"
                    )
                files[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise PackageSourceError(f"{what}: not a readable .tar.gz archive ({exc})") from exc
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1 and all("/" in name for name in files):
        files = {name.split("/", 1)[1]: content for name, content in files.items()}
    return files


def select_package(files: Mapping[str, bytes], what: str) -> dict[str, bytes]:
    """Keep the descriptor, its resources and the package docs; fail if a resource is missing."""
    if DESCRIPTOR not in files:
        raise PackageSourceError(f"{what}: no {DESCRIPTOR}")
    wanted = package_members(files[DESCRIPTOR], what)
    missing = [m for m in wanted if m not in files]
    if missing:
        raise PackageSourceError(f"{what}: {DESCRIPTOR} lists files that are absent: {missing}")
    return {name: files[name] for name in [*wanted, *PACKAGE_DOCS] if name in files}


def download(
    url: str, deadline_s: float = DOWNLOAD_DEADLINE_S, read_timeout_s: float = 30.0
) -> bytes:
    """The body at ``url``, read in chunks under an overall deadline and a size bound.

    Raises
    ------
    PackageSourceError
        If the server does not answer, the whole download takes longer than ``deadline_s``
        seconds, or the body exceeds :data:`MAX_PACKAGE_BYTES`.
    """
    start = time.monotonic()
    chunks, size = [], 0
    try:
        with urllib.request.urlopen(url, timeout=read_timeout_s) as response:
            # read1 returns what one receive brings, so the deadline is checked however slowly
            # the bytes come (read(n) would wait for all n).
            while chunk := response.read1(64 * 1024):
                size += len(chunk)
                if size > MAX_PACKAGE_BYTES:
                    raise PackageSourceError(
                        f"{url}: more than {MAX_PACKAGE_BYTES} bytes; nothing was written"
                    )
                if time.monotonic() - start > deadline_s:
                    raise PackageSourceError(
                        f"{url}: download not finished after {deadline_s:g} s "
                        f"({size} bytes received); nothing was written"
                    )
                chunks.append(chunk)
    except PackageSourceError:
        raise
    except (OSError, ValueError) as exc:
        raise PackageSourceError(f"{url}: download failed ({exc}); nothing was written") from exc
    return b"".join(chunks)


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
