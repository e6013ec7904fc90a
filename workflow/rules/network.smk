# The network meta-analysis of formulations and comparators (PROTOCOL.md §18).

NMA_ABOUT = {
    "effects": "every node against inert placebo, with the merged-nodes sensitivity network",
    "league": "the league table of every pair of nodes",
    "inconsistency": "Q by design and node-splitting",
    "graph": "the network's nodes and edges",
}
NMA_FIGURES = {
    "network_graph": "the network graph",
    "league": "the league table as a heat map",
    "nma_forest": "the forest plot of the network estimates",
}


# One table and figure of each kind per outcome, from one template ({outcome} is the rules'
# wildcard).
NMA_TABLE = {
    part: Table(f"nma_{{outcome}}_{TIMEPOINT_LABEL}_{part}", f"nma_{part}", about)
    for part, about in NMA_ABOUT.items()
}
NMA_FIGURE = {
    name: Figure(f"{name}_{{outcome}}_{TIMEPOINT_LABEL}", name, about)
    for name, about in NMA_FIGURES.items()
}

NETWORK = OUTPUTS.register(
    "network",
    "Network",
    tables={
        f"{outcome}_{part}": NMA_TABLE[part].expand(outcome=outcome)
        for outcome in NMA_OUTCOMES
        for part in NMA_TABLES
    },
    figures={
        f"{outcome}_{name}": NMA_FIGURE[name].expand(outcome=outcome)
        for outcome in NMA_OUTCOMES
        for name in NMA_FIGURES
    },
)


rule network_meta_analysis:
    """Consistency-model network meta-analysis at the primary timepoint, per outcome: effects
    against inert placebo, league table, inconsistency (Q by design, node-splitting) and the
    graph's nodes and edges; the merged-nodes sensitivity network stacked below."""
    input:
        validated=validated_tables("studies", "arms", "outcomes", "contrasts"),
    output:
        **{part: NMA_TABLE[part].path for part in NMA_TABLES},
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
        **{part: NMA_TABLE[part].path for part in ("effects", "league", "graph")},
        validation=after_validation,
    output:
        **figure_set_outputs(NMA_FIGURE, "Network"),
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
