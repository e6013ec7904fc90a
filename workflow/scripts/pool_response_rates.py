"""Snakemake entry: pooled proportion of responders per arm type."""

from pathlib import Path

from ketamine_meta.analyses.pooled import pooled_response_rates
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
pooling = snakemake.params.pooling
validated = Path(snakemake.input.validated)
table = pooled_response_rates(
    read_validated_table(validated / "outcomes.csv"),
    read_validated_table(validated / "arms.csv"),
    read_validated_table(validated / "studies.csv"),
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.scale_preference,
    pooling,
    measure=snakemake.params.measure,
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("pooled response rates for %d arm types", len(table))
