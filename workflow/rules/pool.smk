rule pool_smd_by_route:
    """Random-effects pooling of Hedges' g at the primary timepoint, per route and overall,
    with the test for subgroup differences; one estimate per trial (PROTOCOL.md §11)."""
    input:
        effects="data/processed/effect_sizes.csv",
    output:
        pooled=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    log:
        "logs/pool_smd_by_route.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        protocol=PROTOCOL,
    script:
        "../scripts/pool_smd_by_route.py"


rule pool_smd_by_moderator:
    """Random-effects pooling of Hedges' g at the primary timepoint, per level of a moderator
    (enantiomer, control type, population)."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        pooled=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_{{moderator}}.csv",
    log:
        "logs/pool_smd_by_{moderator}.log",
    wildcard_constraints:
        moderator="|".join(SMD_MODERATORS),
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
    script:
        "../scripts/pool_smd_by_moderator.py"


rule subgroup_tests_smd:
    """Tests for subgroup differences (separate and common tau^2) per moderator."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        tests=f"results/tables/subgroup_tests_smd_{TIMEPOINT_LABEL}.csv",
    log:
        "logs/subgroup_tests_smd.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        moderators=config["sensitivity"]["moderators"],
    script:
        "../scripts/subgroup_tests_smd.py"


rule sensitivity_smd:
    """Leave-one-out, influence diagnostics, cumulative pooling by year and the Q-profile
    intervals for the heterogeneity of the primary analysis, per trial."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        leave_one_out=f"results/tables/leave_one_out_smd_{TIMEPOINT_LABEL}.csv",
        influence=f"results/tables/influence_smd_{TIMEPOINT_LABEL}.csv",
        cumulative=f"results/tables/cumulative_smd_{TIMEPOINT_LABEL}_by_year.csv",
        heterogeneity=f"results/tables/heterogeneity_smd_{TIMEPOINT_LABEL}.csv",
    log:
        "logs/sensitivity_smd.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
    script:
        "../scripts/sensitivity_smd.py"


rule publication_bias_smd:
    """Egger's regression test, the rank correlation test and trim-and-fill over trials (and
    over comparisons where a trial has several)."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        tests=f"results/tables/publication_bias_smd_{TIMEPOINT_LABEL}.csv",
    log:
        "logs/publication_bias_smd.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
    script:
        "../scripts/publication_bias_smd.py"


rule crossover_correlation_sensitivity:
    """The primary pooled SMD rerun over a range of within-person correlations."""
    input:
        validated=VALIDATED_DIR,
    output:
        table=f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_crossover_correlation.csv",
    log:
        "logs/crossover_correlation_sensitivity.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
        pooling=config["pooling"],
        correlations=config["sensitivity"]["crossover_correlations"],
        protocol=PROTOCOL,
    script:
        "../scripts/crossover_correlation_sensitivity.py"


rule pool_response_rates:
    """Pooled proportion of responders per arm type at the primary timepoint."""
    input:
        validated=VALIDATED_DIR,
    output:
        table=f"results/tables/pooled_response_rate_{TIMEPOINT_LABEL}_by_arm_type.csv",
    log:
        "logs/pool_response_rates.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        measure=config["response_rates"]["measure"],
        protocol=PROTOCOL,
        scale_preference=config["comparisons"]["scale_preference"],
    script:
        "../scripts/pool_response_rates.py"


rule pool_response_rr_by_enantiomer:
    """Log risk ratio of response at the primary timepoint, pooled per enantiomer."""
    input:
        effects="data/processed/effect_sizes.csv",
    output:
        by_study=f"results/tables/rr_response_{TIMEPOINT_LABEL}_by_study.csv",
        pooled=f"results/tables/pooled_rr_response_{TIMEPOINT_LABEL}_by_enantiomer.csv",
    log:
        "logs/pool_response_rr_by_enantiomer.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        protocol=PROTOCOL,
    script:
        "../scripts/pool_response_rr_by_enantiomer.py"


rule response_time_course:
    """Pooled response proportion per arm type from 40 min to 28 days."""
    input:
        validated=VALIDATED_DIR,
    output:
        table="results/tables/response_time_course.csv",
    log:
        "logs/response_time_course.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        measure=config["response_rates"]["measure"],
        protocol=PROTOCOL,
        scale_preference=config["comparisons"]["scale_preference"],
    script:
        "../scripts/response_time_course.py"


rule adverse_event_risk_ratios:
    """Risk ratios of blood pressure increase and dissociation as adverse events."""
    input:
        validated=VALIDATED_DIR,
    output:
        table="results/tables/adverse_event_rr.csv",
    log:
        "logs/adverse_event_risk_ratios.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        events=["blood pressure increased", "dissociation"],
    script:
        "../scripts/adverse_event_risk_ratios.py"


rule analysis_set_sensitivity:
    """The primary pooled SMD rerun in each pre-specified sensitivity set (PROTOCOL.md §16)."""
    input:
        validated=VALIDATED_DIR,
    output:
        table=f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_analysis_sets.csv",
    log:
        "logs/analysis_set_sensitivity.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
        pooling=config["pooling"],
        protocol=PROTOCOL,
        sets=config["sensitivity"]["analysis_sets"],
    script:
        "../scripts/analysis_set_sensitivity.py"


rule enantiomer_head_to_head:
    """Racemic ketamine against esketamine: within head-to-head trials and between trials."""
    input:
        effects="data/processed/effect_sizes.csv",
        validated=VALIDATED_DIR,
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        table=f"results/tables/enantiomer_head_to_head_{TIMEPOINT_LABEL}.csv",
    log:
        "logs/enantiomer_head_to_head.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
        pooling=config["pooling"],
        protocol=PROTOCOL,
    script:
        "../scripts/enantiomer_head_to_head.py"
