"""Snakemake entry: pooled response proportion per arm type over time."""

from pathlib import Path

import pandas as pd

from ketamine_meta.analyses import response_time_course
from ketamine_meta.logs import configure
from ketamine_meta.protocol import Protocol
from ketamine_meta.tables import to_csv_text

log = configure(snakemake.log[0])
validated = Path(snakemake.input.validated)
table = response_time_course(
    pd.read_csv(validated / "outcomes.csv"),
    pd.read_csv(validated / "arms.csv"),
    pd.read_csv(validated / "studies.csv"),
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.scale_preference,
    snakemake.params.pooling,
    snakemake.params.measure,
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d arm-type x window cells", len(table))
