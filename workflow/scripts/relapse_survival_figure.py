"""Snakemake entry: relapse-free curves grouped by route or enantiomer."""

import pandas as pd

from ketamine_meta.logs import configure
from ketamine_meta.plotting import (
    PNG_METADATA,
    ROUTE_NAMES,
    SVG_METADATA,
    deterministic_style,
    relapse_curves,
)

log = configure(snakemake.log[0])
grouping = snakemake.wildcards.grouping
by_study = pd.read_csv(snakemake.input.by_study)
names = ROUTE_NAMES if grouping == "route" else {}
with deterministic_style():
    figure = relapse_curves(by_study, grouping, level=snakemake.params.level, group_names=names)
    for fmt, path in snakemake.output.items():
        metadata = SVG_METADATA if fmt == "svg" else PNG_METADATA
        figure.savefig(path, format=fmt, dpi=snakemake.params.png_dpi, metadata=metadata)
        log.info("wrote %s", path)
