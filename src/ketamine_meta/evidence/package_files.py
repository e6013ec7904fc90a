"""Read a data package directory: the file reading the entry points share.

The statistics modules stay free of I/O; the command line and the workflow (the ``pull``
inputs and script, the ``validate`` script) read package directories through these. Every
path comes from the descriptor and is checked to lie inside the package
(:func:`~ketamine_meta.evidence.package_source.safe_member_path`) before anything is opened.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ketamine_meta.evidence.package_source import (
    DESCRIPTOR,
    PACKAGE_DOCS,
    PackageSourceError,
    package_members,
    parse_descriptor,
)


def read_package_dir(root: str | Path) -> tuple[dict, dict[str, str]]:
    """Return the parsed ``datapackage.json`` of ``root`` and the text of each listed table.

    Tables that do not exist are left out, so that validation reports them as missing.
    The UTF-8 byte-order mark some spreadsheet programs write is dropped.

    Raises
    ------
    PackageSourceError
        With the file (and line, for text) named: no descriptor, an unusable descriptor
        (:func:`~ketamine_meta.evidence.package_source.parse_descriptor`), a table that is a
        directory, a binary file, or a file that is not UTF-8.
    """
    root = Path(root)
    descriptor_path = root / DESCRIPTOR
    if not descriptor_path.is_file():
        raise PackageSourceError(f"{descriptor_path}: no such file (not a data package)")
    descriptor = parse_descriptor(descriptor_path.read_bytes(), str(root))
    texts = {
        r["path"]: read_table_text(root / r["path"])
        for r in descriptor["resources"]
        if (root / r["path"]).exists()
    }
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
    data = path.read_bytes()
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise PackageSourceError(f"{path}: line {line}: NUL byte, a binary file, not CSV text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PackageSourceError(
            f"{path}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 "
            "(save the table as UTF-8; Latin-1 and Windows-1252 are not read)"
        ) from exc


def local_package_files(root: str | Path) -> list[Path]:
    """Paths of a package directory's files: descriptor, every listed table, and the docs present.

    Listed tables are returned whether or not they exist, so that a missing one is reported
    by whoever reads it; a directory without a descriptor gives an empty list, and one whose
    descriptor cannot be used gives only the descriptor, so that ``pull`` reports why.
    """
    root = Path(root)
    descriptor = root / DESCRIPTOR
    if not descriptor.is_file():
        return []
    try:
        members = package_members(descriptor.read_bytes())
    except PackageSourceError:
        return [descriptor]
    docs = [root / d for d in PACKAGE_DOCS if (root / d).exists()]
    return [root / m for m in members] + docs


def read_validated_table(path: str | Path) -> pd.DataFrame:
    """A table the ``validate`` stage wrote, read back without guessing missing values.

    Only an empty cell is missing: identifiers such as an arm called ``NA`` or ``None`` stay
    text (pandas would otherwise read them as NaN and lose the row's identity).
    """
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def read_validated_tables(folder: str | Path, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """:func:`read_validated_table` of each ``NAME.csv`` in ``folder``, by name."""
    return {name: read_validated_table(Path(folder) / f"{name}.csv") for name in names}
