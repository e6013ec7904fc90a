"""Snakemake entry: forest plot of the response risk ratio by enantiomer."""

from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.plotting import (
    ForestLabels,
    deterministic_style,
    forest_plot,
    save_figure,
)

log = configure(snakemake.log[0])
labels = ForestLabels(effect="Risk ratio of response", exponentiate=True)
names = {"racemic": "Racemic ketamine", "esketamine": "Esketamine", "arketamine": "Arketamine"}
with deterministic_style():
    figure = forest_plot(
        read_validated_table(snakemake.input.by_study),
        read_validated_table(snakemake.input.pooled),
        subgroup="enantiomer",
        subgroup_names=names,
        labels=labels,
        level=snakemake.params.level,
    )
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
