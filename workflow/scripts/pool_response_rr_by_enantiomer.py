"""Snakemake entry: log RR of response at the primary timepoint, pooled by enantiomer."""

from pathlib import Path

from ketamine_meta.analyses.pooled import pool_rr_by, select_at
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
pooling = snakemake.params.pooling
effects = read_validated_table(snakemake.input.effects)
by_study = select_at(effects, "response", "logRR", Protocol.from_config(snakemake.params.protocol))
pooled = pool_rr_by(by_study, "enantiomer", pooling, "response")
Path(snakemake.output.by_study).write_text(to_csv_text(by_study))
Path(snakemake.output.pooled).write_text(to_csv_text(pooled))
log.info("pooled %d response comparisons", len(by_study))
