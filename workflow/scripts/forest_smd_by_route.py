"""Snakemake entry: draw the forest plot of Hedges' g by route."""

import pandas as pd

from ketamine_meta.logs import configure
from ketamine_meta.plotting import PNG_METADATA, SVG_METADATA, deterministic_style, forest_plot

log = configure(snakemake.log[0])
by_study = pd.read_csv(snakemake.input.by_study)
pooled = pd.read_csv(snakemake.input.pooled)
with deterministic_style():
    figure = forest_plot(by_study, pooled, level=snakemake.params.level)
    for fmt, path in snakemake.output.items():
        metadata = SVG_METADATA if fmt == "svg" else PNG_METADATA
        figure.savefig(path, format=fmt, dpi=snakemake.params.png_dpi, metadata=metadata)
        log.info("wrote %s", path)
