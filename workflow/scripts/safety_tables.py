"""Snakemake entry: every safety table (rule safety_tables)."""

from ketamine_meta.analyses.protocol import Pooling
from ketamine_meta.analyses.safety import (
    adverse_event_table,
    dissociation_slope,
    dissociation_vs_effect,
)
from ketamine_meta.evidence.package_files import read_validated_table, validated_path
from ketamine_meta.io.logs import configure
from ketamine_meta.io.tables import write_table

log = configure(snakemake.log[0])
output = snakemake.output
pooling = Pooling.from_config(snakemake.params.pooling)
events = adverse_event_table(
    read_validated_table(validated_path(snakemake.input.validated, "adverse_events")),
    read_validated_table(validated_path(snakemake.input.validated, "arms")),
    snakemake.params.events,
    pooling,
)
write_table(output.adverse_events, events)
log.info("%d adverse-event rows", len(events))
# The per-arm table as written, as the figures and claims read it.
points = dissociation_vs_effect(
    read_validated_table(snakemake.input.by_study),
    read_validated_table(output.adverse_events),
)
write_table(output.dissociation_vs_effect, points)
slope = dissociation_slope(points, pooling)
write_table(output.dissociation_slope, slope)
log.info("dissociation against effect: %d comparisons", len(points))
