# Relapse after response (PROTOCOL.md §17): per-arm summary fits, pooled medians and hazard
# ratios, and relapse-free curves by route and by enantiomer.

RELAPSE_GROUPINGS = ("route", "enantiomer")


# One figure per grouping, from one template ({grouping} is the rule's wildcard).
RELAPSE_FIGURE = Figure(
    "relapse_survival_by_{grouping}",
    "relapse_survival",
    "relapse-free curves per arm by {grouping}, summary fits with bands",
)

RELAPSE = OUTPUTS.register(
    "relapse",
    "Relapse",
    tables={
        "by_study": Table(
            "relapse_by_study",
            "relapse_by_study",
            "relapse after response per arm (route, enantiomer, regimen, median, relapse-free "
            "at 14/28/56 days, data basis)",
        ),
        "pooled": Table(
            "relapse_pooled",
            "relapse_pooled",
            "pooled medians and the pooled HR of continuing vs stopping",
        ),
        "reproduction": Table(
            "relapse_reproduction",
            "relapse_reproduction",
            "each published durability figure beside ours",
        ),
        "durability": Table(
            "durability_evidence",
            "durability_evidence",
            "every durability figure as published, by evidence class and design",
        ),
    },
    figures={
        grouping: RELAPSE_FIGURE.expand(grouping=grouping)
        for grouping in RELAPSE_GROUPINGS
    },
    traced={
        "relapse": Traced(
            "by_study", ("pooled",), ("route", "enantiomer", "regimen", "study_id")
        ),
    },
)


rule relapse_tables:
    """Relapse after response: per-arm summary fits, pooled medians and hazard ratios, and the
    published figures beside ours."""
    input:
        validated=validated_tables("relapse", "arms", "durability_cohorts"),
    output:
        **RELAPSE.table_paths(),
    log:
        "logs/relapse_tables.log",
    priority: CRITICAL_PATH
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
    script:
        "../scripts/relapse_tables.py"


rule relapse_survival_figure:
    """Relapse-free curves by route or by enantiomer."""
    input:
        by_study=RELAPSE.table("by_study").path,
        validation=after_validation,
    output:
        **figure_outputs(RELAPSE_FIGURE, "Relapse"),
    log:
        "logs/relapse_survival_by_{grouping}.log",
    wildcard_constraints:
        grouping="|".join(RELAPSE_GROUPINGS),
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        level=config["pooling"]["level"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/relapse_survival_figure.py"
