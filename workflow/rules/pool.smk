rule pool_smd_by_route:
    """Random-effects pooling of Hedges' g at the primary timepoint, per route and overall,
    with the test for subgroup differences."""
    input:
        effects="data/processed/effect_sizes.csv",
    output:
        pooled=report(
            f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
            caption="../report/pooled_smd_by_route.rst",
            category="Tables",
        ),
        by_study=report(
            f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
            caption="../report/smd_by_study.rst",
            category="Tables",
        ),
    params:
        pooling=config["pooling"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/pool_smd_by_route.log",
    script:
        "../scripts/pool_smd_by_route.py"
