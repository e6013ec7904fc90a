"""Snakemake entry: figure of pooled response proportions over time."""

import pandas as pd

from ketamine_meta.evidence_plots import response_time_course_plot
from ketamine_meta.logs import configure
from ketamine_meta.plotting import PNG_METADATA, SVG_METADATA, deterministic_style

log = configure(snakemake.log[0])
with deterministic_style():
    figure = response_time_course_plot(pd.read_csv(snakemake.input.table))
    for fmt, path in snakemake.output.items():
        metadata = SVG_METADATA if fmt == "svg" else PNG_METADATA
        figure.savefig(path, format=fmt, dpi=snakemake.params.png_dpi, metadata=metadata)
        log.info("wrote %s", path)
