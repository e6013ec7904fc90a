"""Snakemake entry: tests for subgroup differences with separate and common tau^2."""

from pathlib import Path

from ketamine_meta.analyses.pooled import subgroup_tests
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table

log = configure(snakemake.log[0])
by_study = read_validated_table(snakemake.input.by_study)
tests = subgroup_tests(by_study, snakemake.params.moderators, snakemake.params.pooling)
Path(snakemake.output.tests).write_text(to_csv_text(tests))
log.info("%d subgroup tests over %s", len(tests), ", ".join(snakemake.params.moderators))
