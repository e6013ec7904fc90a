"""Snakemake entry: posterior probabilities beside the claims' verdicts (rule bayesian_claims)."""

from ketamine_meta.analyses.bayesian import BayesianProtocol, claim_probabilities
from ketamine_meta.analyses.claims import antidepressant_benchmark
from ketamine_meta.evidence.configuration import load_checked_yaml
from ketamine_meta.evidence.package_files import read_validated_table, read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import write_table

log = configure(snakemake.log[0])
bayes = BayesianProtocol.from_config(snakemake.params.bayesian)
# claims_audit has already refused a mapping its schema refuses: read here for the tolerance.
mapping = load_checked_yaml(snakemake.input.mapping, snakemake.input.schema)
tables = read_validated_tables(snakemake.input.validated, ("claims", "published_estimates"))
benchmark = antidepressant_benchmark(tables["published_estimates"])["estimate"]
table = claim_probabilities(
    read_validated_table(snakemake.input.audit),
    tables["claims"],
    read_validated_table(snakemake.input.smd),
    read_validated_table(snakemake.input.enantiomer),
    benchmark,
    mapping["verdict_rules"]["tolerance"],
    snakemake.params.bayesian["equivalence_margin"],
    bayes,
)
log.info("%d probabilities for %d claims", len(table), table["claim_id"].nunique())
write_table(snakemake.output.table, table)
