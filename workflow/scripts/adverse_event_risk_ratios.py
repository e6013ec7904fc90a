"""Snakemake entry: risk ratios of selected adverse events, per trial and pooled."""

from pathlib import Path

from ketamine_meta.analyses.pooled import adverse_event_table
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
validated = Path(snakemake.input.validated)
table = adverse_event_table(
    read_validated_table(validated / "adverse_events.csv"),
    read_validated_table(validated / "arms.csv"),
    snakemake.params.events,
    snakemake.params.pooling,
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d rows", len(table))
