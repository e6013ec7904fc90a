"""Snakemake entry: pool Hedges' g at the primary timepoint by route and overall."""

from pathlib import Path

from ketamine_meta.analyses.pooled import pool_smd_by_route, select_smd_at
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
pooling = snakemake.params.pooling
effects = read_validated_table(snakemake.input.effects)
by_study = select_smd_at(effects, Protocol.from_config(snakemake.params.protocol))
pooled = pool_smd_by_route(by_study, pooling)
Path(snakemake.output.by_study).write_text(to_csv_text(by_study))
Path(snakemake.output.pooled).write_text(to_csv_text(pooled))
log.info("pooled %d comparisons from %d trials", len(by_study), by_study["study_id"].nunique())
