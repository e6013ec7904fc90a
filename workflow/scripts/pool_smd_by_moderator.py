"""Snakemake entry: pool Hedges' g at the primary timepoint per level of one moderator."""

from pathlib import Path

from ketamine_meta.analyses.pooled import pool_smd_by
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
moderator = snakemake.wildcards.moderator
by_study = read_validated_table(snakemake.input.by_study)
pooled = pool_smd_by(by_study, moderator, snakemake.params.pooling)
Path(snakemake.output.pooled).write_text(to_csv_text(pooled))
log.info("pooled %d comparisons by %s", len(by_study), moderator)
