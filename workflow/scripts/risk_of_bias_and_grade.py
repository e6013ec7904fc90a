"""Snakemake entry: risk of bias, its sensitivity analyses and the summary of findings."""

from pathlib import Path

from ketamine_meta.analyses.grade import (
    risk_of_bias_sensitivity,
    summary_of_findings,
    traffic_light,
)
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.cli.logs import configure
from ketamine_meta.cli.tables import to_csv_text
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.report_pages import summary_of_findings_html

log = configure(snakemake.log[0])
rob = read_validated_table(Path(snakemake.input.validated) / "risk_of_bias.csv")
effects = read_validated_table(snakemake.input.effects)
settings = snakemake.params.grade
summary = summary_of_findings(
    effects,
    read_validated_table(snakemake.input.adverse_events),
    rob,
    Protocol.from_config(snakemake.params.protocol),
    snakemake.params.nodes,
    snakemake.params.pooling,
    settings,
)
Path(snakemake.output.traffic_light).write_text(to_csv_text(traffic_light(rob, effects, settings)))
Path(snakemake.output.sensitivity).write_text(
    to_csv_text(
        risk_of_bias_sensitivity(
            read_validated_table(snakemake.input.by_study), rob, snakemake.params.pooling, settings
        )
    )
)
Path(snakemake.output.summary).write_text(to_csv_text(summary))
Path(snakemake.output.page).write_text(
    summary_of_findings_html(summary, "ketamine formulations against inert placebo for depression"),
    encoding="utf-8",
)
log.info("summary of findings: %d rows", len(summary))
