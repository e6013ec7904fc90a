"""Snakemake entry: every dose table (rule dose_tables)."""

from ketamine_meta.analyses.dose import (
    arm_doses,
    bioavailability_by_route,
    cost_per_responder,
    dose_response,
    iv_equivalent_doses,
)
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.evidence.package_files import read_validated_table, validated_path
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import write_table

log = configure(snakemake.log[0])
output = snakemake.output
pooling = Pooling.from_config(snakemake.params.pooling)
dose = snakemake.params.dose
bioavailability = read_validated_table(validated_path(snakemake.input.validated, "bioavailability"))
arms = read_validated_table(validated_path(snakemake.input.validated, "arms"))
by_route = bioavailability_by_route(bioavailability, dose["reference_iv_mg"])
by_comparison = iv_equivalent_doses(
    read_validated_table(snakemake.input.by_study), by_route, dose["body_weight_kg"]
)
coefficients, line = dose_response(by_comparison, pooling)
write_table(output.by_route, by_route)
write_table(output.arm_doses, arm_doses(arms, "racemic_ketamine", dose["body_weight_kg"]))
write_table(output.by_comparison, by_comparison)
write_table(output.dose_response, coefficients)
write_table(output.dose_response_line, line)
log.info("dose-response on %d comparisons", coefficients["k"].iloc[0])
write_table(
    output.cost,
    cost_per_responder(read_validated_table(snakemake.input.rates), snakemake.params.costs),
)
