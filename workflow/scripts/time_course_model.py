"""Snakemake entry: the time-course model of the depression score (PROTOCOL.md §19)."""

from pathlib import Path

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.analyses.time_course import time_course_analysis
from ketamine_meta.evidence.package_files import read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text
from ketamine_meta.stats.multilevel import REPORTED_DIGITS

log = configure(snakemake.log[0])
pooling = Pooling.from_config(snakemake.params.pooling)
results = time_course_analysis(
    read_validated_tables(snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts")),
    ComparisonRules(**snakemake.params.comparisons),
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.nodes,
    snakemake.params.time_course,
    pooling,
)
# The model's results at the precision its optimiser guarantees; the observed g and the
# within-trial contrasts are closed-form.
Path(snakemake.output.cells).write_text(to_csv_text(results.cells, REPORTED_DIGITS))
Path(snakemake.output.contrasts).write_text(to_csv_text(results.contrasts))
Path(snakemake.output.observed).write_text(to_csv_text(results.observed))
observed = results.observed
log.info("%d observed g of %d trials", len(observed), observed["study_id"].nunique())
for row in results.excluded.itertuples(index=False):
    log.info("left out %s (%s, %s): %s", row.comparison_id, row.group, row.window, row.reason)
