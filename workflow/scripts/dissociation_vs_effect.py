"""Snakemake entry: effect against dissociation, with the meta-regression where estimable."""

import numpy as np

from ketamine_meta.analyses.pooled import dissociation_vs_effect
from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.evidence_plots import dissociation_vs_effect_plot
from ketamine_meta.figures.plotting import deterministic_style, save_figure
from ketamine_meta.stats.meta_regression import meta_regression

log = configure(snakemake.log[0])
pooling = snakemake.params.pooling
table = dissociation_vs_effect(
    read_validated_table(snakemake.input.by_study),
    read_validated_table(snakemake.input.adverse_events),
)
if len(table) > 2:
    x = np.column_stack([np.ones(len(table)), table["dissociation_share"]])
    fit = meta_regression(
        table["yi"], table["vi"], x, ["intercept", "share"], pooling["method"], pooling["test"]
    )
    slope = fit.coefficients.iloc[1]
    text = f"Slope {slope['estimate']:.2f} per unit share, p = {slope['pval']:.3f}, k = {fit.k}"
else:
    text = f"k = {len(table)}: a meta-regression is not estimable (no CADSS scores could be read)"
log.info(text)
with deterministic_style():
    figure = dissociation_vs_effect_plot(table, text)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
