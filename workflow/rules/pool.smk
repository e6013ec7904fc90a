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
        protocol=PROTOCOL,
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/pool_smd_by_route.log",
    script:
        "../scripts/pool_smd_by_route.py"


rule pool_smd_by_moderator:
    """Random-effects pooling of Hedges' g at the primary timepoint, per level of a moderator
    (enantiomer, control type, population)."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        pooled=report(
            f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_{{moderator}}.csv",
            caption="../report/pooled_smd_by_moderator.rst",
            category="Tables",
            labels={"table": "pooled SMD by {moderator}"},
        ),
    wildcard_constraints:
        moderator="enantiomer|control_type|population",
    params:
        pooling=config["pooling"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/pool_smd_by_{moderator}.log",
    script:
        "../scripts/pool_smd_by_moderator.py"


rule subgroup_tests_smd:
    """Tests for subgroup differences (separate and common tau^2) per moderator."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        tests=report(
            f"results/tables/subgroup_tests_smd_{TIMEPOINT_LABEL}.csv",
            caption="../report/subgroup_tests_smd.rst",
            category="Sensitivity",
        ),
    params:
        pooling=config["pooling"],
        moderators=config["sensitivity"]["moderators"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/subgroup_tests_smd.log",
    script:
        "../scripts/subgroup_tests_smd.py"


rule sensitivity_smd:
    """Leave-one-out, influence diagnostics, cumulative pooling by year and the Q-profile
    intervals for the heterogeneity of the primary analysis."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        leave_one_out=report(
            f"results/tables/leave_one_out_smd_{TIMEPOINT_LABEL}.csv",
            caption="../report/leave_one_out_smd.rst",
            category="Sensitivity",
        ),
        influence=report(
            f"results/tables/influence_smd_{TIMEPOINT_LABEL}.csv",
            caption="../report/influence_smd.rst",
            category="Sensitivity",
        ),
        cumulative=report(
            f"results/tables/cumulative_smd_{TIMEPOINT_LABEL}_by_year.csv",
            caption="../report/cumulative_smd.rst",
            category="Sensitivity",
        ),
        heterogeneity=report(
            f"results/tables/heterogeneity_smd_{TIMEPOINT_LABEL}.csv",
            caption="../report/heterogeneity_smd.rst",
            category="Sensitivity",
        ),
    params:
        pooling=config["pooling"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/sensitivity_smd.log",
    script:
        "../scripts/sensitivity_smd.py"


rule publication_bias_smd:
    """Egger's regression test, the rank correlation test and trim-and-fill."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        tests=report(
            f"results/tables/publication_bias_smd_{TIMEPOINT_LABEL}.csv",
            caption="../report/publication_bias_smd.rst",
            category="Sensitivity",
        ),
    params:
        pooling=config["pooling"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/publication_bias_smd.log",
    script:
        "../scripts/publication_bias_smd.py"


rule crossover_correlation_sensitivity:
    """The primary pooled SMD rerun over a range of within-person correlations."""
    input:
        validated=VALIDATED_DIR,
    output:
        table=report(
            f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_crossover_correlation.csv",
            caption="../report/crossover_correlation_sensitivity.rst",
            category="Sensitivity",
        ),
    params:
        comparisons=config["comparisons"],
        pooling=config["pooling"],
        correlations=config["sensitivity"]["crossover_correlations"],
        protocol=PROTOCOL,
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/crossover_correlation_sensitivity.log",
    script:
        "../scripts/crossover_correlation_sensitivity.py"


rule pool_response_rates:
    """Pooled proportion of responders per arm type at the primary timepoint."""
    input:
        validated=VALIDATED_DIR,
    output:
        table=report(
            f"results/tables/pooled_response_rate_{TIMEPOINT_LABEL}_by_arm_type.csv",
            caption="../report/pooled_response_rate.rst",
            category="Tables",
        ),
    params:
        pooling=config["pooling"],
        measure=config["response_rates"]["measure"],
        protocol=PROTOCOL,
        scale_preference=config["comparisons"]["scale_preference"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/pool_response_rates.log",
    script:
        "../scripts/pool_response_rates.py"


rule pool_response_rr_by_enantiomer:
    """Log risk ratio of response at the primary timepoint, pooled per enantiomer."""
    input:
        effects="data/processed/effect_sizes.csv",
    output:
        by_study=report(
            f"results/tables/rr_response_{TIMEPOINT_LABEL}_by_study.csv",
            caption="../report/rr_response_by_study.rst",
            category="Tables",
        ),
        pooled=report(
            f"results/tables/pooled_rr_response_{TIMEPOINT_LABEL}_by_enantiomer.csv",
            caption="../report/pooled_rr_response_by_enantiomer.rst",
            category="Tables",
        ),
    params:
        pooling=config["pooling"],
        protocol=PROTOCOL,
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/pool_response_rr_by_enantiomer.log",
    script:
        "../scripts/pool_response_rr_by_enantiomer.py"


rule response_time_course:
    """Pooled response proportion per arm type from 40 min to 28 days."""
    input:
        validated=VALIDATED_DIR,
    output:
        table=report(
            "results/tables/response_time_course.csv",
            caption="../report/response_time_course_table.rst",
            category="Tables",
        ),
    params:
        pooling=config["pooling"],
        measure=config["response_rates"]["measure"],
        protocol=PROTOCOL,
        scale_preference=config["comparisons"]["scale_preference"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/response_time_course.log",
    script:
        "../scripts/response_time_course.py"


rule adverse_event_risk_ratios:
    """Risk ratios of blood pressure increase and dissociation as adverse events."""
    input:
        validated=VALIDATED_DIR,
    output:
        table=report(
            "results/tables/adverse_event_rr.csv",
            caption="../report/adverse_event_rr.rst",
            category="Safety",
        ),
    params:
        pooling=config["pooling"],
        events=["blood pressure increased", "dissociation"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/adverse_event_risk_ratios.log",
    script:
        "../scripts/adverse_event_risk_ratios.py"


rule analysis_set_sensitivity:
    """The primary pooled SMD rerun in each pre-specified sensitivity set (PROTOCOL.md §16)."""
    input:
        validated=VALIDATED_DIR,
    output:
        table=report(
            f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_analysis_sets.csv",
            caption="../report/analysis_set_sensitivity.rst",
            category="Sensitivity",
        ),
    params:
        comparisons=config["comparisons"],
        pooling=config["pooling"],
        protocol=PROTOCOL,
        sets=config["sensitivity"]["analysis_sets"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/analysis_set_sensitivity.log",
    script:
        "../scripts/analysis_set_sensitivity.py"


rule enantiomer_head_to_head:
    """Racemic ketamine against esketamine: within head-to-head trials and between trials."""
    input:
        effects="data/processed/effect_sizes.csv",
        validated=VALIDATED_DIR,
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        table=report(
            f"results/tables/enantiomer_head_to_head_{TIMEPOINT_LABEL}.csv",
            caption="../report/enantiomer_head_to_head.rst",
            category="Tables",
        ),
    params:
        comparisons=config["comparisons"],
        pooling=config["pooling"],
        protocol=PROTOCOL,
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/enantiomer_head_to_head.log",
    script:
        "../scripts/enantiomer_head_to_head.py"
