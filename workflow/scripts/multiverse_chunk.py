"""Snakemake entry: one chunk of an outcome's multiverse (PROTOCOL.md §21)."""

from pathlib import Path

from ketamine_meta.analyses.bayesian import BayesianProtocol
from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.multiverse import chunk_specifications, fit_specifications
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.evidence.package_files import read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
settings = snakemake.params.multiverse
outcome = snakemake.params.outcome
rules = ComparisonRules(**snakemake.params.comparisons)
chunk = int(snakemake.wildcards.chunk)
specs = chunk_specifications(settings, chunk, snakemake.params.chunks, rules, outcome)
bayes = BayesianProtocol.from_config(snakemake.params.bayesian)
table = fit_specifications(
    read_validated_tables(
        snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts", "risk_of_bias")
    ),
    rules,
    Protocol.from_config(snakemake.params.protocol),
    settings,
    specs,
    snakemake.params.level,
    outcome,
    bayes.spec(bayes.primary(outcome["measure"])),
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%s: %d data specifications, %d fitted rows", outcome["name"], len(specs), len(table))
