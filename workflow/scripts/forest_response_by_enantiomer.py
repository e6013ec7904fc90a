"""Snakemake entry: forest plot of the response risk ratio by enantiomer."""

import pandas as pd

from ketamine_meta.logs import configure
from ketamine_meta.plotting import (
    PNG_METADATA,
    SVG_METADATA,
    ForestLabels,
    deterministic_style,
    forest_plot,
)

log = configure(snakemake.log[0])
pooling = snakemake.params.pooling
labels = ForestLabels(
    effect="Risk ratio of response",
    model=f"τ² by {pooling['method']}, {pooling['test']} confidence intervals; log scale",
    exponentiate=True,
)
names = {"racemic": "Racemic ketamine", "esketamine": "Esketamine", "arketamine": "Arketamine"}
with deterministic_style():
    figure = forest_plot(
        pd.read_csv(snakemake.input.by_study),
        pd.read_csv(snakemake.input.pooled),
        subgroup="enantiomer",
        subgroup_names=names,
        labels=labels,
        level=snakemake.params.level,
    )
    for fmt, path in snakemake.output.items():
        metadata = SVG_METADATA if fmt == "svg" else PNG_METADATA
        figure.savefig(path, format=fmt, dpi=snakemake.params.png_dpi, metadata=metadata)
        log.info("wrote %s", path)
