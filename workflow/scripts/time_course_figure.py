"""Snakemake entry: every trial's observed course and the modelled g per formulation."""

from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.plotting import deterministic_style, save_figure
from ketamine_meta.figures.time_course_plots import time_course_plot
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
with deterministic_style():
    figure = time_course_plot(
        read_validated_table(snakemake.input.cells),
        read_validated_table(snakemake.input.observed),
        snakemake.params.level,
        snakemake.params.min_trials,
    )
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
