"""Snakemake entry: the time-course model of the depression score (PROTOCOL.md §19)."""

from pathlib import Path

from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.analyses.time_course import time_course_analysis
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.stats.meta_analysis import confidence_level
from ketamine_meta.stats.multilevel import REPORTED_DIGITS

log = configure(snakemake.log[0])
cells, observed = time_course_analysis(
    read_validated_table(snakemake.input.effects),
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.nodes,
    snakemake.params.time_course,
    confidence_level(snakemake.params.level),
)
# The model's results at the precision its optimiser guarantees; the observed g are closed-form.
Path(snakemake.output.cells).write_text(to_csv_text(cells, REPORTED_DIGITS))
Path(snakemake.output.observed).write_text(to_csv_text(observed))
log.info("%d observed g in %d comparisons", len(observed), observed["comparison_id"].nunique())
