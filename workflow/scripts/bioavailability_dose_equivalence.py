"""Snakemake entry: IV-equivalent dose by route with the trials' doses."""

from pathlib import Path

import numpy as np

from ketamine_meta.analyses.comparisons import ENANTIOMER
from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.evidence_plots import bioavailability_plot
from ketamine_meta.figures.plotting import deterministic_style, save_figure

log = configure(snakemake.log[0])
weight = snakemake.params.dose["body_weight_kg"]
routes = read_validated_table(snakemake.input.by_route)
routes = routes[routes["enantiomer"] == "racemic"]
arms = read_validated_table(Path(snakemake.input.validated) / "arms.csv")
racemic = arms[(arms["drug"] == "racemic_ketamine") & arms["dose"].notna()].copy()
racemic["dose_mg_70kg"] = np.where(
    racemic["dose_unit"] == "mg_per_kg", racemic["dose"] * weight, racemic["dose"]
)
log.info("%d racemic arms of %d drug arms", len(racemic), arms["drug"].isin(list(ENANTIOMER)).sum())
with deterministic_style():
    figure = bioavailability_plot(routes, racemic)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
