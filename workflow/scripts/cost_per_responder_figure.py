"""Snakemake entry: cost per responder figure."""

from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.evidence_plots import cost_per_responder_plot
from ketamine_meta.figures.plotting import deterministic_style, save_figure

log = configure(snakemake.log[0])
table = read_validated_table(snakemake.input.table).dropna(subset=["cost_per_responder"])
with deterministic_style():
    figure = cost_per_responder_plot(table)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
