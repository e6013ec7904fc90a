"""Snakemake entry: the primary pooled SMD rerun in each pre-specified sensitivity set."""

from pathlib import Path

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.pooled import analysis_set_sensitivity
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_tables

log = configure(snakemake.log[0])
tables = read_validated_tables(
    snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts")
)
table = analysis_set_sensitivity(
    tables,
    ComparisonRules(**snakemake.params.comparisons),
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.sets,
    snakemake.params.pooling,
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("reran the primary analysis in %d sets", len(table))
