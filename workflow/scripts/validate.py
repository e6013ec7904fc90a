"""Snakemake entry: validate the pulled package and write its typed tables."""

import sys
from pathlib import Path

from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.datapackage import DataPackageError, validate_package
from ketamine_meta.evidence.package_files import read_package_dir
from ketamine_meta.evidence.package_source import PackageSourceError

log = configure(snakemake.log[0])
try:
    descriptor, texts = read_package_dir(snakemake.input[0])
    tables = validate_package(descriptor, texts)
except (DataPackageError, PackageSourceError) as exc:
    # Every problem, located to the cell; no output is written.
    log.error("%s", exc)
    sys.exit(1)

out_dir = Path(snakemake.output[0])
out_dir.mkdir(parents=True)
for name, frame in tables.items():
    (out_dir / f"{name}.csv").write_text(to_csv_text(frame))
    log.info("%s: %d rows valid", name, len(frame))
