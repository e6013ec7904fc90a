"""Snakemake entry: PRISMA flow diagram from the screening log."""

from pathlib import Path

import pandas as pd

from ketamine_meta.analyses import prisma_counts
from ketamine_meta.evidence_plots import prisma_flow
from ketamine_meta.logs import configure
from ketamine_meta.plotting import deterministic_style, save_figure

log = configure(snakemake.log[0])
validated = Path(snakemake.input.validated)
counts, reasons = prisma_counts(
    pd.read_csv(validated / "screening.csv"),
    pd.read_csv(validated / "studies.csv"),
    pd.read_csv(snakemake.input.by_study),
    pd.read_csv(validated / "relapse.csv"),
)
log.info("flow counts: %s", counts)
with deterministic_style():
    figure = prisma_flow(counts, reasons)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
