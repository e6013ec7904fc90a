"""Snakemake entry: pooled response proportion per arm type over time."""

from pathlib import Path

from ketamine_meta.analyses.pooled import response_time_course
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
validated = Path(snakemake.input.validated)
table = response_time_course(
    read_validated_table(validated / "outcomes.csv"),
    read_validated_table(validated / "arms.csv"),
    read_validated_table(validated / "studies.csv"),
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.scale_preference,
    snakemake.params.pooling,
    snakemake.params.measure,
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d arm-type x window cells", len(table))
