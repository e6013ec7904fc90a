"""Snakemake entry: risk ratio of one adverse event per trial and pooled."""

from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.evidence_plots import adverse_event_plot
from ketamine_meta.figures.plotting import deterministic_style, save_figure

log = configure(snakemake.log[0])
with deterministic_style():
    figure = adverse_event_plot(read_validated_table(snakemake.input.table), snakemake.params.event)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
