"""Snakemake entry: draw the forest plot of Hedges' g by route."""

from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.plotting import deterministic_style, forest_plot, save_figure

log = configure(snakemake.log[0])
by_study = read_validated_table(snakemake.input.by_study)
pooled = read_validated_table(snakemake.input.pooled)
with deterministic_style():
    figure = forest_plot(by_study, pooled, level=snakemake.params.level)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
