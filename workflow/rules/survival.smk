rule relapse_tables:
    """Relapse after response: per-arm summary fits, pooled medians and hazard ratios, and the
    published figures beside ours."""
    input:
        validated=VALIDATED_DIR,
    output:
        by_study=report(
            "results/tables/relapse_by_study.csv",
            caption="../report/relapse_by_study.rst",
            category="Relapse",
        ),
        pooled=report(
            "results/tables/relapse_pooled.csv",
            caption="../report/relapse_pooled.rst",
            category="Relapse",
        ),
        reproduction=report(
            "results/tables/relapse_reproduction.csv",
            caption="../report/relapse_reproduction.rst",
            category="Relapse",
        ),
        durability=report(
            "results/tables/durability_evidence.csv",
            caption="../report/durability_evidence.rst",
            category="Relapse",
        ),
    params:
        pooling=config["pooling"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/relapse_tables.log",
    script:
        "../scripts/relapse_tables.py"


rule relapse_survival_figure:
    """Relapse-free curves by route or by enantiomer."""
    input:
        by_study="results/tables/relapse_by_study.csv",
    output:
        **{
            fmt: report(
                f"results/figures/relapse_survival_by_{{grouping}}.{fmt}",
                caption="../report/relapse_survival.rst",
                category="Relapse",
                labels={"figure": "relapse curves by {grouping}", "format": fmt},
            )
            for fmt in config["figures"]["formats"]
        },
    wildcard_constraints:
        grouping="route|enantiomer",
    params:
        level=config["pooling"]["level"],
        png_dpi=config["figures"]["png_dpi"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/relapse_survival_by_{grouping}.log",
    script:
        "../scripts/relapse_survival_figure.py"
