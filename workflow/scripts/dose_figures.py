"""Snakemake entry: the dose figures, drawn from the dose tables (rule dose_figures)."""

import numpy as np

from ketamine_meta.analyses.comparisons import ENANTIOMER
from ketamine_meta.evidence.package_files import read_validated_table, validated_path
from ketamine_meta.figures.dose_plots import (
    bioavailability_plot,
    cost_per_responder_plot,
    dose_response_plot,
    dose_response_text,
)
from ketamine_meta.figures.plotting import deterministic_style, save_figures
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
weight = snakemake.params.dose["body_weight_kg"]
routes = read_validated_table(snakemake.input.by_route)
routes = routes[routes["enantiomer"] == "racemic"]
arms = read_validated_table(validated_path(snakemake.input.validated, "arms"))
racemic = arms[(arms["drug"] == "racemic_ketamine") & arms["dose"].notna()].copy()
racemic["dose_mg_70kg"] = np.where(
    racemic["dose_unit"] == "mg_per_kg", racemic["dose"] * weight, racemic["dose"]
)
log.info("%d racemic arms of %d drug arms", len(racemic), arms["drug"].isin(list(ENANTIOMER)).sum())
doses = read_validated_table(snakemake.input.by_comparison).dropna(
    subset=["iv_equivalent_mg_per_kg"]
)
coefficients = read_validated_table(snakemake.input.dose_response)
line = read_validated_table(snakemake.input.dose_response_line)
cost = read_validated_table(snakemake.input.cost).dropna(subset=["cost_per_responder"])
with deterministic_style():
    figures = {
        "bioavailability": bioavailability_plot(routes, racemic),
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
