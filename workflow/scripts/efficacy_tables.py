"""Snakemake entry: every efficacy table of the primary timepoint (rule efficacy_tables).

The per-comparison table is written first and read back, so that every later table is
computed from the numbers as written, exactly as a reader of results/tables would.
"""

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.efficacy import (
    analysis_set_sensitivity,
    crossover_correlation_sensitivity,
    cumulative_table,
    enantiomer_head_to_head,
    heterogeneity_table,
    influence_table,
    leave_one_out_table,
    pool_smd_by,
    publication_bias_table,
    subgroup_tests,
)
from ketamine_meta.analyses.pooling import select_smd_at
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.evidence.package_files import read_validated_table, read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import write_table

log = configure(snakemake.log[0])
output = snakemake.output
params = snakemake.params
pooling = Pooling.from_config(params.pooling)
protocol = Protocol.from_config(params.protocol)
rules = ComparisonRules(**params.comparisons)
tables = read_validated_tables(
    snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts")
)

write_table(
    output.by_study,
    select_smd_at(read_validated_table(snakemake.input.effects), protocol),
)
by_study = read_validated_table(output.by_study)
log.info("%d comparisons from %d trials", len(by_study), by_study["study_id"].nunique())
for moderator in ("route", *params.moderators):
    write_table(output[f"pooled_by_{moderator}"], pool_smd_by(by_study, moderator, pooling))
write_table(
    output.subgroup_tests,
    subgroup_tests(by_study, params.subgroup_moderators, pooling),
)
write_table(output.leave_one_out, leave_one_out_table(by_study, pooling))
influence = influence_table(by_study, pooling)
write_table(output.influence, influence)
log.info(
    "influential trials: %s", ", ".join(influence.loc[influence["influential"], "study"]) or "none"
)
write_table(output.cumulative, cumulative_table(by_study, pooling))
write_table(output.heterogeneity, heterogeneity_table(by_study, pooling))
write_table(output.publication_bias, publication_bias_table(by_study, pooling))
write_table(
    output.crossover_correlation,
    crossover_correlation_sensitivity(tables, rules, params.correlations, pooling, protocol),
)
write_table(
    output.analysis_sets,
    analysis_set_sensitivity(tables, rules, protocol, params.sets, pooling),
)
write_table(
    output.head_to_head,
    enantiomer_head_to_head(tables, rules, protocol, by_study, pooling),
)
