"""Snakemake entry: PRISMA flow diagram from the screening log."""

from ketamine_meta.analyses.screening import prisma_counts
from ketamine_meta.evidence.package_files import read_validated_table, validated_path
from ketamine_meta.figures.plotting import deterministic_style, save_figure
from ketamine_meta.figures.screening_plots import prisma_flow
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
validated = snakemake.input.validated
counts, reasons = prisma_counts(
    read_validated_table(validated_path(validated, "screening")),
    read_validated_table(validated_path(validated, "studies")),
    read_validated_table(snakemake.input.by_study),
    read_validated_table(validated_path(validated, "relapse")),
)
log.info("flow counts: %s", counts)
with deterministic_style():
    figure = prisma_flow(counts, reasons, snakemake.params.timepoint_h)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
