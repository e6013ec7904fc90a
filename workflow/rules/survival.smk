rule relapse_tables:
    """Relapse after response: per-arm summary fits, pooled medians and hazard ratios, and the
    published figures beside ours."""
    input:
        validated=VALIDATED_DIR,
    output:
        by_study="results/tables/relapse_by_study.csv",
        pooled="results/tables/relapse_pooled.csv",
        reproduction="results/tables/relapse_reproduction.csv",
        durability="results/tables/durability_evidence.csv",
    log:
        "logs/relapse_tables.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
    script:
        "../scripts/relapse_tables.py"


rule relapse_survival_figure:
    """Relapse-free curves by route or by enantiomer."""
    input:
        by_study="results/tables/relapse_by_study.csv",
    output:
        **figure_outputs(
            "relapse_survival_by_{grouping}",
            "relapse_survival",
            "Relapse",
        ),
    log:
        "logs/relapse_survival_by_{grouping}.log",
    wildcard_constraints:
        grouping="route|enantiomer",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        level=config["pooling"]["level"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/relapse_survival_figure.py"
