"""Snakemake entry: IV-equivalent doses and the dose-response meta-regression."""

from pathlib import Path

from ketamine_meta.analyses.pooled import (
    bioavailability_by_route,
    dose_response,
    iv_equivalent_doses,
)
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
dose = snakemake.params.dose
bioavailability = read_validated_table(Path(snakemake.input.validated) / "bioavailability.csv")
by_route = bioavailability_by_route(bioavailability, dose["reference_iv_mg"])
by_comparison = iv_equivalent_doses(
    read_validated_table(snakemake.input.by_study), by_route, dose["body_weight_kg"]
)
coefficients, _ = dose_response(by_comparison, snakemake.params.pooling)
for name, table in (
    ("by_route", by_route),
    ("by_comparison", by_comparison),
    ("dose_response", coefficients),
):
    Path(snakemake.output[name]).write_text(to_csv_text(table))
log.info("dose-response slope %.3f", coefficients["estimate"].iloc[1])
