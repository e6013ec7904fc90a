"""Snakemake entry: the claims audit."""

import sys
from pathlib import Path

from ketamine_meta.analyses.claims import Evidence, VerdictRules, audit_claims
from ketamine_meta.analyses.protocol import Pooling, Protocol
from ketamine_meta.evidence.configuration import ConfigError, load_checked_yaml
from ketamine_meta.evidence.package_files import read_validated_table, read_validated_tables
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import to_csv_text

log = configure(snakemake.log[0])
pooling = Pooling.from_config(snakemake.params.pooling)
try:
    mapping = load_checked_yaml(snakemake.input.mapping, snakemake.input.schema)
except ConfigError as exc:
    log.error("%s", exc)
    sys.exit(1)
package = (
    "outcomes",
    "arms",
    "studies",
    "relapse",
    "adverse_events",
    "published_estimates",
    "trial_traits",
)
tables = read_validated_tables(snakemake.input.validated, package)
results = {
    "effects": "effects",
    "pooled_smd_by_route": "pooled_route",
    "pooled_smd_by_enantiomer": "pooled_enantiomer",
    "subgroup_tests": "subgroup_tests",
    "relapse_by_study": "relapse_by_study",
    "adverse_event_rr": "adverse_event_rr",
    "bioavailability_by_route": "bioavailability_by_route",
    "smd_by_study": "smd_by_study",
    "head_to_head": "head_to_head",
    "durability": "durability",
}
tables |= {name: read_validated_table(snakemake.input[key]) for name, key in results.items()}
rules = VerdictRules(**mapping["verdict_rules"])
evidence = Evidence(
    tables,
    pooling,
    rules,
    Protocol.from_config(snakemake.params.protocol),
    tuple(snakemake.params.scale_preference),
)
try:
    audit = audit_claims(
        read_validated_tables(snakemake.input.validated, ("claims",))["claims"],
        mapping["claims"],
        evidence,
    )
except ValueError as exc:
    # A config/claims.yaml entry the package refutes (unknown test or study id, reads_as for a
    # claim with a value): one line naming the claim.
    log.error("config/claims.yaml: %s", exc)
    sys.exit(1)
Path(snakemake.output.table).write_text(to_csv_text(audit))
for verdict, count in audit["verdict"].value_counts().items():
    log.info("%s: %d", verdict, count)
