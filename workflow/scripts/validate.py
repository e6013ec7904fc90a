"""Snakemake entry: validate the pulled package against the canonical schema, write its tables."""

import sys
from pathlib import Path

from ketamine_meta.evidence.completeness import completeness_warnings
from ketamine_meta.evidence.datapackage import RESOURCE_NAME, DataPackageError, validate_package
from ketamine_meta.evidence.package_files import read_canonical_schema, read_package_dir
from ketamine_meta.evidence.package_source import PackageSourceError
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
try:
    canonical = read_canonical_schema(snakemake.input.schema)
    descriptor, texts = read_package_dir(snakemake.input.package)
    tables = validate_package(descriptor, texts, canonical)
except (DataPackageError, PackageSourceError) as exc:
    # Every problem, located to the cell; no output is written.
    log.error("%s", exc)
    sys.exit(1)

# Each name becomes a file name: the canonical names are plain identifiers, and a name that is
# not one is refused before anything is written rather than used as a path.
unsafe = [name for name in tables if not RESOURCE_NAME.fullmatch(name)]
if unsafe:
    log.error("resource name %r is not a plain identifier; nothing was written", unsafe[0])
    sys.exit(1)
out_dir = Path(snakemake.output[0])
out_dir.mkdir(parents=True)
for name, frame in tables.items():
    (out_dir / f"{name}.csv").write_text(to_csv_text(frame))
    log.info("%s: %d rows valid", name, len(frame))
# A valid package may still hold an unfinished trial: named here, it does not stop the run.
for warning in completeness_warnings(tables):
    log.warning("%s", warning)
