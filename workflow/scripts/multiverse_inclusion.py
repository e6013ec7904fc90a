"""Snakemake entry: the inclusion multiverse of the primary specification (PROTOCOL.md §21.2)."""

from pathlib import Path

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.multiverse import inclusion_multiverse
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.evidence.package_files import read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
pooling = Pooling.from_config(snakemake.params.pooling)
table = inclusion_multiverse(
    read_validated_tables(
        snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts", "risk_of_bias")
    ),
    ComparisonRules(**snakemake.params.comparisons),
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.multiverse,
    pooling.model,
    snakemake.params.outcome,
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d subgroups, %d subsets", len(table), table["subsets"].sum())
