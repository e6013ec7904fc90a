"""Snakemake entry: every response table (rule response_tables)."""

from ketamine_meta.analyses.pooling import select_at
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.analyses.response import pool_rr_by, pooled_response_rates, response_time_course
from ketamine_meta.evidence.package_files import read_validated_table, read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import write_table

log = configure(snakemake.log[0])
output = snakemake.output
params = snakemake.params
pooling = Pooling.from_config(params.pooling)
protocol = Protocol.from_config(params.protocol)
arm_tables = list(
    read_validated_tables(snakemake.input.validated, ("outcomes", "arms", "studies")).values()
)
rates = pooled_response_rates(
    *arm_tables, protocol, params.scale_preference, pooling, measure=params.measure
)
write_table(output.rates, rates)
log.info("pooled response rates for %d arm types", len(rates))
write_table(
    output.time_course,
    response_time_course(*arm_tables, protocol, params.scale_preference, pooling, params.measure),
)
by_study = select_at(read_validated_table(snakemake.input.effects), "response", "logRR", protocol)
write_table(output.rr_by_study, by_study)
write_table(output.rr_pooled, pool_rr_by(by_study, "enantiomer", pooling, "response"))
log.info("pooled %d response comparisons", len(by_study))
