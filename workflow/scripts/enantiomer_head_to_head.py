"""Snakemake entry: racemic ketamine against esketamine, within and between trials."""

from pathlib import Path

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.pooled import enantiomer_head_to_head
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table, read_validated_tables

log = configure(snakemake.log[0])
tables = read_validated_tables(
    snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts")
)
table = enantiomer_head_to_head(
    tables,
    ComparisonRules(**snakemake.params.comparisons),
    Protocol.from_config(snakemake.params.protocol),
    read_validated_table(snakemake.input.by_study),
    snakemake.params.pooling,
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d head-to-head rows", len(table))
