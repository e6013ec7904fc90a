"""Snakemake entry: risk of bias, its sensitivity analyses and the summary of findings."""

from pathlib import Path

from ketamine_meta.analyses.comparisons import ComparisonRules
from ketamine_meta.analyses.grade import (
    risk_of_bias_sensitivity,
    summary_of_findings,
    traffic_light,
    trial_level_effects,
)
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.evidence.package_files import read_validated_table, read_validated_tables
from ketamine_meta.figures.report_pages import summary_of_findings_html
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
pooling = Pooling.from_config(snakemake.params.pooling)
tables = read_validated_tables(
    snakemake.input.validated,
    ("studies", "arms", "outcomes", "contrasts", "adverse_events", "risk_of_bias"),
)
settings = snakemake.params.grade
effects = trial_level_effects(tables, ComparisonRules(**snakemake.params.comparisons))
unknown = {e["study_id"] for e in settings["efficacy_exit_trials"]} - set(
    tables["studies"]["study_id"]
)
if unknown:
    log.warning("grade.efficacy_exit_trials names trials not in the package: %s", sorted(unknown))
summary = summary_of_findings(
    tables,
    effects,
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.nodes,
    pooling,
    settings,
)
rob = tables["risk_of_bias"]
Path(snakemake.output.traffic_light).write_text(
    to_csv_text(traffic_light(rob, effects, tables["arms"], settings))
)
Path(snakemake.output.sensitivity).write_text(
    to_csv_text(
        risk_of_bias_sensitivity(
            read_validated_table(snakemake.input.by_study), rob, pooling, settings
        )
    )
)
Path(snakemake.output.summary).write_text(to_csv_text(summary))
Path(snakemake.output.page).write_text(
    summary_of_findings_html(
        summary,
        "ketamine formulations against placebo for depression",
        pooling.min_trials,
    ),
    encoding="utf-8",
)
log.info("summary of findings: %d rows", len(summary))
