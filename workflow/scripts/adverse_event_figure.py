"""Snakemake entry: risk ratio of one adverse event per trial and pooled."""

import pandas as pd

from ketamine_meta.evidence_plots import adverse_event_plot
from ketamine_meta.logs import configure
from ketamine_meta.plotting import PNG_METADATA, SVG_METADATA, deterministic_style

log = configure(snakemake.log[0])
with deterministic_style():
    figure = adverse_event_plot(pd.read_csv(snakemake.input.table), snakemake.params.event)
    for fmt, path in snakemake.output.items():
        metadata = SVG_METADATA if fmt == "svg" else PNG_METADATA
        figure.savefig(path, format=fmt, dpi=snakemake.params.png_dpi, metadata=metadata)
        log.info("wrote %s", path)
