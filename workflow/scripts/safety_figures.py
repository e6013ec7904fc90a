"""Snakemake entry: the safety figures, drawn from the safety tables (rule safety_figures)."""

from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.plotting import deterministic_style, save_figures
from ketamine_meta.figures.safety_plots import (
    adverse_event_plot,
    dissociation_slope_text,
    dissociation_vs_effect_plot,
)
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
events = read_validated_table(snakemake.input.adverse_events)
points = read_validated_table(snakemake.input.dissociation_vs_effect)
slope = read_validated_table(snakemake.input.dissociation_slope)
with deterministic_style():
    figures = {
        f"events_{key}": adverse_event_plot(events, event, snakemake.params.level)
        for key, event in snakemake.params.events.items()
    }
    figures["dissociation_vs_effect"] = dissociation_vs_effect_plot(
        points,
        dissociation_slope_text(slope),
        snakemake.params.level,
        snakemake.params.timepoint_h,
    )
    for path in save_figures(figures, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
