"""Snakemake entry: the network graph, league heat map and forest plot of one outcome."""

from ketamine_meta.analyses.network import NETWORK_OUTCOMES
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.network_plots import league_heatmap, network_forest, network_graph
from ketamine_meta.figures.plotting import deterministic_style, save_figures
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
outcome = snakemake.wildcards.outcome
_, _, effect = NETWORK_OUTCOMES[outcome]
ratio = outcome == "rr"
shown = "risk ratio of response" if ratio else "Hedges' g"
when = f"{snakemake.params.timepoint_h:g} h"
with deterministic_style():
    figures = {
        "network_graph": network_graph(
            read_validated_table(snakemake.input.graph), f"Network of trials, {shown} at {when}"
        ),
        "league": league_heatmap(
            read_validated_table(snakemake.input.league),
            effect,
            ratio,
            snakemake.params.level,
            f"League table, {shown} at {when} (row against column)",
        ),
        "nma_forest": network_forest(
            read_validated_table(snakemake.input.effects),
            "risk ratio" if ratio else "Hedges' g",
            ratio,
            snakemake.params.method,
            snakemake.params.level,
            f"Network estimates, {shown} at {when}",
        ),
    }
    for path in save_figures(figures, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
