"""Snakemake entry: Egger's test, the rank correlation test and trim-and-fill, over trials."""

from pathlib import Path

from ketamine_meta.analyses.pooled import publication_bias_table
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
by_study = read_validated_table(snakemake.input.by_study)
table = publication_bias_table(by_study, snakemake.params.pooling)
Path(snakemake.output.tests).write_text(to_csv_text(table))
log.info(
    "small-study tests on %d trials (%d comparisons)",
    by_study["study_id"].nunique(),
    len(by_study),
)
