"""Snakemake entry: funnel plot of the primary analysis."""

from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.evidence_plots import funnel_plot
from ketamine_meta.figures.plotting import deterministic_style, save_figure
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL

log = configure(snakemake.log[0])
by_study = read_validated_table(snakemake.input.by_study)
overall = read_validated_table(snakemake.input.pooled).set_index("subgroup").loc[OVERALL_LABEL]
egger = read_validated_table(snakemake.input.bias).iloc[0]
with deterministic_style():
    figure = funnel_plot(by_study, overall["estimate"], egger, "Hedges' g at 24 h")
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
