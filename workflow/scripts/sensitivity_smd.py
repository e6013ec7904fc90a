"""Snakemake entry: leave-one-out, influence, cumulative and heterogeneity tables, per trial."""

from pathlib import Path

from ketamine_meta.analyses.pooled import (
    cumulative_table,
    heterogeneity_table,
    influence_table,
    leave_one_out_table,
)
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
pooling = snakemake.params.pooling
by_study = read_validated_table(snakemake.input.by_study)
tables = {
    "leave_one_out": leave_one_out_table(by_study, pooling),
    "influence": influence_table(by_study, pooling),
    "cumulative": cumulative_table(by_study, pooling),
    "heterogeneity": heterogeneity_table(by_study, pooling),
}
for name, table in tables.items():
    Path(snakemake.output[name]).write_text(to_csv_text(table))
flagged = tables["influence"].loc[tables["influence"]["influential"], "study"]
log.info("influential trials: %s", ", ".join(flagged) or "none")
