"""Snakemake entry: version and row counts of the data package the results were built from."""

import json
from pathlib import Path

import pandas as pd

from ketamine_meta.evidence.package_files import read_validated_table, validated_path
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
descriptor = json.loads((Path(snakemake.input.package) / "datapackage.json").read_text())
rows = [{"item": "version", "value": descriptor["version"]}]
for resource in descriptor["resources"]:
    frame = read_validated_table(validated_path(snakemake.input.validated, resource["name"]))
    rows.append({"item": f"rows in {resource['path']}", "value": str(len(frame))})
Path(snakemake.output.table).write_text(to_csv_text(pd.DataFrame(rows)))
log.info("data package %s", descriptor["version"])
