# The network meta-analysis of formulations and comparators (PROTOCOL.md §18).


rule network_meta_analysis:
    """Consistency-model network meta-analysis at the primary timepoint, per outcome: effects
    against inert placebo, league table, inconsistency (Q by design, node-splitting) and the
    graph's nodes and edges; the merged-nodes sensitivity network stacked below."""
    input:
        validated=VALIDATED_DIR,
    output:
        effects=f"results/tables/nma_{{outcome}}_{TIMEPOINT_LABEL}_effects.csv",
        league=f"results/tables/nma_{{outcome}}_{TIMEPOINT_LABEL}_league.csv",
        inconsistency=f"results/tables/nma_{{outcome}}_{TIMEPOINT_LABEL}_inconsistency.csv",
        graph=f"results/tables/nma_{{outcome}}_{TIMEPOINT_LABEL}_graph.csv",
        comparisons="data/processed/nma_{outcome}_comparisons.csv",
        exclusions="data/processed/nma_{outcome}_exclusions.csv",
    log:
        "logs/network_meta_analysis_{outcome}.log",
    wildcard_constraints:
        outcome="|".join(NMA_OUTCOMES),
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
        protocol=PROTOCOL,
        network=config["network"],
        level=config["pooling"]["level"],
    script:
        "../scripts/network_meta_analysis.py"


rule network_figures:
    """The network graph, the league table as a heat map, and the forest plot of the network."""
    input:
        effects=f"results/tables/nma_{{outcome}}_{TIMEPOINT_LABEL}_effects.csv",
        league=f"results/tables/nma_{{outcome}}_{TIMEPOINT_LABEL}_league.csv",
        graph=f"results/tables/nma_{{outcome}}_{TIMEPOINT_LABEL}_graph.csv",
    output:
        **figure_set_outputs(
            {
                name: (f"{name}_{{outcome}}_{TIMEPOINT_LABEL}", name)
                for name in ("network_graph", "league", "nma_forest")
            },
            "Network",
        ),
    log:
        "logs/network_figures_{outcome}.log",
    wildcard_constraints:
        outcome="|".join(NMA_OUTCOMES),
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        method=config["network"]["method"],
        level=config["pooling"]["level"],
        timepoint_h=config["pooling"]["timepoint_h"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/network_figures.py"
