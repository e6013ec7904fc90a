"""Snakemake entry: copy the data package from data.source into data/processed/package."""

import shutil
import sys
import tempfile
from pathlib import Path

from ketamine_meta.evidence.package_files import read_local_package
from ketamine_meta.evidence.package_source import (
    PackageSourceError,
    check_sha256,
    download,
    select_package,
    source_kind,
    unpack_archive,
)
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
source, expected = snakemake.params.source, snakemake.params.sha256
out_dir = Path(snakemake.output[0])


def read_source() -> dict[str, bytes]:
    kind = source_kind(source)
    if kind == "directory":
        if expected is not None:
            raise PackageSourceError(f"{source}: data.sha256 applies to archives; set it to null")
        # Links are refused: a linked README or table would copy a file from outside.
        return select_package(read_local_package(source), source)
    if kind == "archive":
        data = Path(source).read_bytes()
    else:
        log.info("downloading %s", source)
        data = download(source)
    check_sha256(data, expected, source)
    return select_package(unpack_archive(data, source), source)


try:
    files = read_source()
except (PackageSourceError, OSError) as exc:
    log.error("pull failed: %s", exc)
    sys.exit(1)

# Write into a sibling temporary directory and rename, so a failure leaves no partial copy.
# Every name was checked by select_package to be a relative path inside the package; the
# resolved check below is a second line of defence against writing outside the staging dir.
staging = Path(tempfile.mkdtemp(prefix=".package-", dir=out_dir.parent))
for name in files:
    if not (staging / name).resolve().is_relative_to(staging.resolve()):
        shutil.rmtree(staging)
        log.error("pull failed: %s: resource path leaves the package; nothing was written", name)
        sys.exit(1)
for name, content in files.items():
    (staging / name).parent.mkdir(parents=True, exist_ok=True)
    (staging / name).write_bytes(content)
shutil.rmtree(out_dir, ignore_errors=True)
staging.rename(out_dir)
log.info("pulled %d files from %s", len(files), source)
