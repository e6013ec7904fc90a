"""Snakemake entry: every Bayesian table of the primary timepoint (rule bayesian_tables)."""

from ketamine_meta.analyses.bayesian import (
    BayesianProtocol,
    density_curves,
    posterior_by_subgroup,
    racemic_against_esketamine,
    shrunken_trials,
)
from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.efficacy import head_to_head_pairs
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.evidence.package_files import read_validated_table, read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import write_table

log = configure(snakemake.log[0])
output = snakemake.output
params = snakemake.params
bayes = BayesianProtocol.from_config(params.bayesian)
pooling = Pooling.from_config(params.pooling)
protocol = Protocol.from_config(params.protocol)
smd = read_validated_table(snakemake.input.smd)
rr = read_validated_table(snakemake.input.rr)
label = pooling.timepoint_label
tables = read_validated_tables(
    snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts")
)

write_table(
    output.smd, posterior_by_subgroup(smd, "SMD", f"smd_depression_{label}", bayes, pooling)
)
write_table(
    output.rr, posterior_by_subgroup(rr, "logRR", f"log_rr_response_{label}", bayes, pooling)
)
pairs = head_to_head_pairs(tables, ComparisonRules(**params.comparisons), protocol)
log.info("%d head-to-head comparisons of racemic ketamine and esketamine", len(pairs))
write_table(
    output.enantiomer,
    racemic_against_esketamine(pairs, {"SMD": smd, "logRR": rr}, bayes),
)
write_table(output.shrinkage, shrunken_trials(smd, bayes))
write_table(output.curves, density_curves(smd, bayes, ["route", "enantiomer"]))
