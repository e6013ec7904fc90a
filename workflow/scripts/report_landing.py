"""Snakemake entry: the report's landing page, the workflow description and headline results."""

from pathlib import Path

from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.report_pages import headline_rst

log = configure(snakemake.log[0])
text = headline_rst(
    Path(snakemake.input.description).read_text(encoding="utf-8"),
    pooled_by_route=read_validated_table(snakemake.input.pooled_by_route),
    pooled_by_enantiomer=read_validated_table(snakemake.input.pooled_by_enantiomer),
    rr_by_enantiomer=read_validated_table(snakemake.input.rr_by_enantiomer),
    claims=read_validated_table(snakemake.input.claims),
    pooling=snakemake.params.pooling,
)
Path(snakemake.output.landing).write_text(text, encoding="utf-8")
log.info("landing page: %d lines", text.count("\n"))
