"""Snakemake entry: the dose figures, drawn from the dose tables (rule dose_figures)."""

from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.dose_plots import (
    bioavailability_plot,
    cost_per_responder_plot,
    dose_response_plot,
    dose_response_text,
)
from ketamine_meta.figures.plotting import deterministic_style, save_figures
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
dose = snakemake.params.dose
routes = read_validated_table(snakemake.input.by_route)
routes = routes[routes["enantiomer"] == "racemic"]
racemic = read_validated_table(snakemake.input.arm_doses)
doses = read_validated_table(snakemake.input.by_comparison).dropna(
    subset=["iv_equivalent_mg_per_kg"]
)
coefficients = read_validated_table(snakemake.input.dose_response)
line = read_validated_table(snakemake.input.dose_response_line)
cost = read_validated_table(snakemake.input.cost).dropna(subset=["cost_per_responder"])
with deterministic_style():
    figures = {
        "bioavailability": bioavailability_plot(
            routes, racemic, dose["reference_iv_mg"], dose["body_weight_kg"]
        ),
        "dose_response": dose_response_plot(
            doses.reset_index(drop=True),
            line,
            dose_response_text(coefficients),
            snakemake.params.timepoint_h,
        ),
        "cost": cost_per_responder_plot(cost),
    }
    for path in save_figures(figures, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
