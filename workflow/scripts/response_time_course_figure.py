"""Snakemake entry: figure of pooled response proportions over time."""

from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.evidence_plots import response_time_course_plot
from ketamine_meta.figures.plotting import deterministic_style, save_figure

log = configure(snakemake.log[0])
with deterministic_style():
    figure = response_time_course_plot(read_validated_table(snakemake.input.table))
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
