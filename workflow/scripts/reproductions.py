"""Snakemake entry: published meta-analyses beside ours."""

from pathlib import Path

import pandas as pd
import yaml
from snakemake.utils import validate

from ketamine_meta.logs import configure
from ketamine_meta.protocol import windows_from_config
from ketamine_meta.reproductions import reproductions_table
from ketamine_meta.tables import to_csv_text

log = configure(snakemake.log[0])
specs = {}
for path in snakemake.input.specs:
    spec = yaml.safe_load(Path(path).read_text())
    validate(spec, snakemake.params.schema)
    specs[Path(path).stem] = spec
table = reproductions_table(
    specs,
    pd.read_csv(snakemake.input.effects),
    pd.read_csv(Path(snakemake.input.validated) / "published_estimates.csv"),
    windows_from_config(snakemake.params.windows),
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d reproductions", len(table))
