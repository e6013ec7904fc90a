"""Snakemake entry: cost per responder figure."""

import pandas as pd

from ketamine_meta.evidence_plots import cost_per_responder_plot
from ketamine_meta.logs import configure
from ketamine_meta.plotting import PNG_METADATA, SVG_METADATA, deterministic_style

log = configure(snakemake.log[0])
table = pd.read_csv(snakemake.input.table).dropna(subset=["cost_per_responder"])
with deterministic_style():
    figure = cost_per_responder_plot(table)
    for fmt, path in snakemake.output.items():
        metadata = SVG_METADATA if fmt == "svg" else PNG_METADATA
        figure.savefig(path, format=fmt, dpi=snakemake.params.png_dpi, metadata=metadata)
        log.info("wrote %s", path)
