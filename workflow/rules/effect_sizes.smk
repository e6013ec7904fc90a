rule effect_sizes:
    """One effect size per comparison x outcome x timepoint: Hedges' g for scores,
    log risk ratio for counts."""
    input:
        validated=VALIDATED_DIR,
    output:
        effects="data/processed/effect_sizes.csv",
        exclusions="data/processed/effect_size_exclusions.csv",
    params:
        comparisons=config["comparisons"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/effect_sizes.log",
    script:
        "../scripts/effect_sizes.py"
