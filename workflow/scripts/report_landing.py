"""Snakemake entry: the report's landing page, and its headline in Markdown for the README."""

from pathlib import Path

from ketamine_meta.analyses.changes import parse_record, text_table
from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.headline import headline, headline_markdown
from ketamine_meta.figures.report_pages import headline_rst, what_changed_rst
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
pooling = Pooling.from_config(snakemake.params.pooling)
tables = {
    name: read_validated_table(path)
    for name, path in snakemake.input.items()
    if name not in ("description", "claims", "what_changed", "release")
}
result = headline(tables, pooling)
text = headline_rst(
    Path(snakemake.input.description).read_text(encoding="utf-8"),
    result,
    read_validated_table(snakemake.input.claims),
)
release = snakemake.input.release
record = parse_record(Path(release[0]).read_text(encoding="utf-8"), release[0]) if release else None
text += what_changed_rst(
    record, text_table(Path(snakemake.input.what_changed).read_text(encoding="utf-8"))
)
Path(snakemake.output.landing).write_text(text, encoding="utf-8")
Path(snakemake.output.headline).write_text(headline_markdown(result) + "\n", encoding="utf-8")
log.info("landing page: %d lines", text.count("\n"))
