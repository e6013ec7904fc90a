"""Snakemake entry: the network meta-analysis of one outcome (PROTOCOL.md §18)."""

from pathlib import Path

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.network import network_analysis
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.evidence.package_files import read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
tables = read_validated_tables(
    snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts")
)
results, comparisons, exclusions = network_analysis(
    tables,
    ComparisonRules(**snakemake.params.comparisons),
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.network,
    snakemake.params.level,
    snakemake.wildcards.outcome,
)
for name in ("effects", "league", "inconsistency", "graph"):
    Path(snakemake.output[name]).write_text(to_csv_text(getattr(results, name)))
Path(snakemake.output.comparisons).write_text(to_csv_text(comparisons))
Path(snakemake.output.exclusions).write_text(to_csv_text(exclusions))
log.info(
    "%d comparisons in %d trials; %d left out",
    len(comparisons),
    comparisons["study_id"].nunique(),
    len(exclusions),
)
