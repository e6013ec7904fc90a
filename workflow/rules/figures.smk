rule forest_smd_by_route:
    """Forest plot of Hedges' g at the primary timepoint, grouped by route."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        pooled=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
    output:
        **{
            fmt: report(
                f"results/figures/forest_smd_{TIMEPOINT_LABEL}_by_route.{fmt}",
                caption="../report/forest_smd_by_route.rst",
                category="Figures",
                labels={"figure": "forest plot", "format": fmt},
            )
            for fmt in config["figures"]["formats"]
        },
    params:
        level=config["pooling"]["level"],
        png_dpi=config["figures"]["png_dpi"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/forest_smd_by_route.log",
    script:
        "../scripts/forest_smd_by_route.py"
