"""Snakemake entry: the risk-of-bias traffic-light and summary plots."""

from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.certainty_plots import summary_plot, traffic_light_plot
from ketamine_meta.figures.plotting import deterministic_style, save_figures
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
table = read_validated_table(snakemake.input.table)
with deterministic_style():
    figures = {"traffic_light": traffic_light_plot(table), "summary": summary_plot(table)}
    for path in save_figures(figures, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
