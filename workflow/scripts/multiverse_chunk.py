"""Snakemake entry: one chunk of the multiverse (PROTOCOL.md §21)."""

from pathlib import Path

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.multiverse import chunk_specifications, fit_specifications
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_tables
from ketamine_meta.stats.meta_analysis import confidence_level

log = configure(snakemake.log[0])
settings = snakemake.params.multiverse
rules = ComparisonRules(**snakemake.params.comparisons)
chunk = int(snakemake.wildcards.chunk)
specs = chunk_specifications(settings, chunk, snakemake.params.chunks, rules)
table = fit_specifications(
    read_validated_tables(
        snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts", "risk_of_bias")
    ),
    rules,
    Protocol.from_config(snakemake.params.protocol),
    settings,
    specs,
    confidence_level(snakemake.params.level),
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d data specifications, %d fitted rows", len(specs), len(table))
