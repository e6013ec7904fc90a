rule effect_sizes:
    """One effect size per comparison x outcome x timepoint: Hedges' g for scores,
    log risk ratio for counts."""
    input:
        validated=validated_tables("studies", "arms", "outcomes", "contrasts"),
    output:
        effects="data/processed/effect_sizes.csv",
        exclusions="data/processed/effect_size_exclusions.csv",
    log:
        "logs/effect_sizes.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
    script:
        "../scripts/effect_sizes.py"
