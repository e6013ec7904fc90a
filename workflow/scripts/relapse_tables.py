"""Snakemake entry: relapse summary fits per arm, pooled, and the reproduction table."""

from pathlib import Path

from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.analyses.relapse import (
    durability_evidence,
    relapse_by_study,
    relapse_pooled,
    relapse_reproduction,
)
from ketamine_meta.evidence.package_files import read_validated_table, validated_path
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
pooling = Pooling.from_config(snakemake.params.pooling)
validated = snakemake.input.validated
relapse = read_validated_table(validated_path(validated, "relapse"))
arms = read_validated_table(validated_path(validated, "arms"))
by_study = relapse_by_study(relapse, arms, pooling.model.level)
tables = {
    "by_study": by_study,
    "pooled": relapse_pooled(by_study, relapse, arms, pooling),
    "reproduction": relapse_reproduction(relapse, pooling.model.level),
    "durability": durability_evidence(
        read_validated_table(validated_path(validated, "durability_cohorts")), relapse, arms
    ),
}
for name, table in tables.items():
    Path(snakemake.output[name]).write_text(to_csv_text(table))
log.info(
    "%d arms with relapse data, %d with a time-based fit",
    len(by_study),
    int((by_study["data_basis"] == "summary fit").sum()),
)
