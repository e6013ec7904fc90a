"""Snakemake entry: compute effect sizes for every comparison, outcome and timepoint."""

from pathlib import Path

from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.evidence.package_files import read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
tables = read_validated_tables(
    snakemake.input.validated, ("studies", "arms", "outcomes", "contrasts")
)
effects, exclusions = build_effect_sizes(
    tables["studies"],
    tables["arms"],
    tables["outcomes"],
    tables["contrasts"],
    rules=ComparisonRules(**snakemake.params.comparisons),
)
Path(snakemake.output.effects).write_text(to_csv_text(effects))
Path(snakemake.output.exclusions).write_text(to_csv_text(exclusions))
log.info("%d effect sizes; %d arm rows excluded", len(effects), len(exclusions))
for _, row in exclusions.iterrows():
    log.info(
        "excluded %s %s %s at %s h: %s",
        row.study_id,
        row.arm_id,
        row.outcome,
        row.timepoint_h,
        row.reason,
    )
