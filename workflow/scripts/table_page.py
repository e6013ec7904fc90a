"""Snakemake entry: one results table as an HTML page of the report."""

from pathlib import Path

from ketamine_meta.cli.logs import configure
from ketamine_meta.figures.report_pages import table_page_html

log = configure(snakemake.log[0])
table = Path(snakemake.input.table)
page = table_page_html(
    table.read_text(encoding="utf-8"), title=snakemake.params.title, file_name=table.name
)
Path(snakemake.output.page).write_text(page, encoding="utf-8")
log.info("%s: %d bytes of HTML", table.name, len(page))
