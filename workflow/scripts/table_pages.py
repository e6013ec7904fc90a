"""Snakemake entry: every results table as an HTML page of the report, and its caption."""

from pathlib import Path

from ketamine_meta.figures.report_pages import table_page_html
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
captions = snakemake.params.captions
for table, caption_path in zip(snakemake.params.tables, snakemake.output.captions, strict=True):
    source = Path(getattr(snakemake.input, table))
    page = table_page_html(
        source.read_text(encoding="utf-8"), title=table.replace("_", " "), file_name=source.name
    )
    Path(getattr(snakemake.output, table)).write_text(page, encoding="utf-8")
    Path(caption_path).write_text(captions[table], encoding="utf-8")
    log.info("%s: %d bytes of HTML", source.name, len(page))
