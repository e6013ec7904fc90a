"""Snakemake entry: published meta-analyses beside ours."""

import sys
from pathlib import Path

from ketamine_meta.analyses.protocol import windows_from_config
from ketamine_meta.analyses.reproductions import ComparabilityRules, reproductions_table
from ketamine_meta.evidence.configuration import ConfigError, load_checked_yaml
from ketamine_meta.evidence.package_files import read_validated_table, validated_path
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
try:
    specs = {
        Path(path).stem: load_checked_yaml(path, snakemake.params.schema)
        for path in snakemake.input.specs
    }
    rules = load_checked_yaml(snakemake.input.rules, snakemake.params.rules_schema)
except ConfigError as exc:
    log.error("%s", exc)
    sys.exit(1)
table = reproductions_table(
    specs,
    read_validated_table(snakemake.input.effects),
    read_validated_table(validated_path(snakemake.input.validated, "published_estimates")),
    windows_from_config(snakemake.params.windows),
    ComparabilityRules(**rules["reproduction_rules"]),
)
Path(snakemake.output.table).write_text(to_csv_text(table))
log.info("%d reproductions", len(table))
