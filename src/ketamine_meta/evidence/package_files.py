"""Read a data package directory: the file reading the entry points share.

The statistics modules stay free of I/O; the command line and the workflow (the ``pull``
inputs and script, the ``validate`` script) read package directories through these. Every
path comes from the descriptor and is checked to lie inside the package
(:func:`~ketamine_meta.evidence.package_source.safe_member_path`) before anything is opened,
and no file is read through a symbolic link (:func:`package_file`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ketamine_meta.evidence.datapackage import CANONICAL_SCHEMA, RESOURCE_NAME
from ketamine_meta.evidence.package_source import (
    DESCRIPTOR,
    PACKAGE_DOCS,
    PackageSourceError,
    package_members,
    parse_descriptor,
    safe_member_path,
)


def source_tree_canonical_schema() -> Path:
    """The canonical schema of the source tree this package runs from (``src/..``).

    The project is installed in editable mode (``pip install -e .``), so the repository's
    ``workflow/schemas`` sits beside ``src``; elsewhere the path does not exist and
    :func:`read_canonical_schema` says so.
    """
    return Path(__file__).resolve().parents[3] / CANONICAL_SCHEMA


def read_canonical_schema(path: str | Path) -> dict:
    """The parsed canonical schema at ``path``, checked to be usable as the package's rules.

    Raises
    ------
    PackageSourceError
        If the file is absent or not JSON, or if a resource lacks a unique plain-identifier
        ``name`` (:data:`~ketamine_meta.evidence.datapackage.RESOURCE_NAME`), a safe ``path``
        or a ``schema`` whose ``fields`` are each named.
    """
    path = Path(path)
    if not path.is_file():
        raise PackageSourceError(
            f"{path}: no such file: the canonical schema ({CANONICAL_SCHEMA}) is read from the "
            "project's source tree (install it with pip install -e .)"
        )
    try:
        canonical = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageSourceError(f"{path}: not a readable canonical schema ({exc})") from exc
    resources = canonical.get("resources") if isinstance(canonical, dict) else None
    names = [r.get("name") for r in resources or [] if isinstance(r, dict)]
    if not (
        resources
        and len(names) == len(set(names)) == len(resources)
        and all(_usable_resource(r) for r in resources)
    ):
        raise PackageSourceError(
            f"{path}: each resource needs a unique plain-identifier name, a path inside the "
            "package and a schema whose fields are named"
        )
    return canonical


def _usable_resource(resource: dict) -> bool:
    name, path, schema = resource.get("name"), resource.get("path"), resource.get("schema")
    if not (
        isinstance(name, str)
        and RESOURCE_NAME.fullmatch(name)
        and isinstance(path, str)
        and isinstance(schema, dict)
        and isinstance(schema.get("fields"), list)
    ):
        return False
    try:
        safe_member_path(path, "canonical schema")
    except PackageSourceError:
        return False
    return all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in schema["fields"])


def package_file(root: str | Path, member: str) -> Path:
    """``root / member``, refused if it or a folder on its way is a link or leaves ``root``.

    A link would let a package carry a file from elsewhere on the machine (a table linked to
    a system file, a README linked outside it); nothing is read from its target, and the
    message does not show where it points.

    Raises
    ------
    PackageSourceError
        Naming the file, and the folder that is a link if it is not the file itself.
    """
    root = Path(root)
    path = root / member
    parts = Path(member).parts
    for depth in range(1, len(parts) + 1):
        step = root.joinpath(*parts[:depth])
        if step.is_symlink():
            what = "is a symbolic link" if step == path else f"is inside {step}, a symbolic link"
            raise PackageSourceError(
                f"{path}: {what}; a package file must be a regular file inside the package "
                "(nothing was read from it)"
            )
    # Safe member paths cannot leave the package; this holds for any other caller too.
    if not path.resolve().is_relative_to(root.resolve()):
        raise PackageSourceError(f"{path}: resolves outside the package; nothing was read from it")
    return path


def read_package_dir(root: str | Path) -> tuple[dict, dict[str, str]]:
    """Return the parsed ``datapackage.json`` of ``root`` and the text of each listed table.

    Tables that do not exist are left out, so that validation reports them as missing.
    The UTF-8 byte-order mark some spreadsheet programs write is dropped.

    Raises
    ------
    PackageSourceError
        With the file (and line, for text) named: no descriptor, an unusable descriptor
        (:func:`~ketamine_meta.evidence.package_source.parse_descriptor`), a file that is a
        link or leaves the package (:func:`package_file`), a table that is a directory, a
        binary file, or a file that is not UTF-8.
    """
    root = Path(root)
    descriptor_path = root / DESCRIPTOR
    if not (descriptor_path.is_file() or descriptor_path.is_symlink()):
        raise PackageSourceError(f"{descriptor_path}: no such file (not a data package)")
    descriptor_bytes = package_file(root, DESCRIPTOR).read_bytes()
    descriptor = parse_descriptor(descriptor_bytes, str(root))
    texts = {}
    for resource in descriptor["resources"]:
        path = package_file(root, resource["path"])
        if path.exists():
            texts[resource["path"]] = read_table_text(path)
    return descriptor, texts


def read_table_text(path: Path) -> str:
    """The text of a CSV table, refusing directories, binary files and non-UTF-8 bytes.

    Raises
    ------
    PackageSourceError
        Naming the file, and the line and byte of the first byte that is not UTF-8.
    """
    if path.is_dir():
        raise PackageSourceError(f"{path}: is a directory, not a CSV table")
    return decode_table_bytes(path.read_bytes(), str(path))


def decode_table_bytes(data: bytes, name: str) -> str:
    """A table's bytes as text: UTF-8 (a byte-order mark dropped), no NUL byte.

    Raises
    ------
    PackageSourceError
        Naming ``name`` (a file, or ``-`` for standard input), the line, and the first byte
        that is not UTF-8.
    """
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise PackageSourceError(f"{name}: line {line}: NUL byte, binary data, not CSV text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PackageSourceError(
            f"{name}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 "
            "(save the table as UTF-8; Latin-1 and Windows-1252 are not read)"
        ) from exc


def local_package_files(root: str | Path) -> list[Path]:
    """Paths of a package directory's files: descriptor, every listed table, and the docs present.

    Listed tables are returned whether or not they exist, so that a missing one is reported
    by whoever reads it; a directory without a descriptor gives an empty list, and one whose
    descriptor cannot be used (or is a link) gives only the descriptor, so that ``pull``
    reports why. The list only names files: :func:`read_local_package` reads them, refusing
    links.
    """
    root = Path(root)
    descriptor = root / DESCRIPTOR
    if not (descriptor.is_file() or descriptor.is_symlink()):
        return []
    try:
        members = package_members(package_file(root, DESCRIPTOR).read_bytes())
    except PackageSourceError:
        return [descriptor]
    docs = [root / d for d in PACKAGE_DOCS if (root / d).exists() or (root / d).is_symlink()]
    return [root / m for m in members] + docs


def read_local_package(root: str | Path) -> dict[str, bytes]:
    """The bytes of every file of :func:`local_package_files` present, by relative path.

    A descriptor that cannot be used is returned as it is, for
    :func:`~ketamine_meta.evidence.package_source.select_package` to say why.

    Raises
    ------
    PackageSourceError
        If a file is a link or leaves the package (:func:`package_file`).
    """
    root = Path(root)
    files = {}
    for path in local_package_files(root):
        member = str(path.relative_to(root))
        if path.exists() or path.is_symlink():
            files[member] = package_file(root, member).read_bytes()
    return files


def read_validated_table(path: str | Path) -> pd.DataFrame:
    """A table the ``validate`` stage wrote, read back without guessing missing values.

    Only an empty cell is missing: identifiers such as an arm called ``NA`` or ``None`` stay
    text (pandas would otherwise read them as NaN and lose the row's identity).
    """
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def validated_path(tables: str | Path | Sequence[str | Path], name: str) -> Path:
    """Where the validated table ``name`` is: ``NAME.csv`` in a folder, or among given files.

    A workflow rule passes the files it declared as input, so that a table it did not declare
    (and would not be rerun for) cannot be read.

    Raises
    ------
    KeyError
        If ``tables`` is a list of files without ``NAME.csv``.
    """
    if isinstance(tables, (str, Path)) and Path(tables).is_dir():
        return Path(tables) / f"{name}.csv"
    for path in [tables] if isinstance(tables, (str, Path)) else tables:
        if Path(path).name == f"{name}.csv":
            return Path(path)
    raise KeyError(f"validated table {name!r} is not among the declared inputs")


def read_validated_tables(
    tables: str | Path | Sequence[str | Path], names: tuple[str, ...]
) -> dict[str, pd.DataFrame]:
    """:func:`read_validated_table` of each table of ``names``, by name.

    ``tables`` is the validated folder or the declared files (:func:`validated_path`).
    """
    return {name: read_validated_table(validated_path(tables, name)) for name in names}
