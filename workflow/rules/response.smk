# Response (PROTOCOL.md §14): how many patients respond, per arm type and over time, and the
# risk ratio of response against control by enantiomer. One job writes the tables, one draws
# the figures (ketamine_meta.analyses.response, figures.response_plots).

RESPONSE = OUTPUTS.register(
    "response",
    "Response",
    tables={
        "rates": Table(
            f"pooled_response_rate_{TIMEPOINT_LABEL}_by_arm_type",
            "pooled_response_rate",
            "pooled proportion of responders per arm type (enantiomer x route; placebo kinds; "
            "midazolam)",
        ),
        "rr_by_study": Table(
            f"rr_response_{TIMEPOINT_LABEL}_by_study",
            "rr_response_by_study",
            "every comparison of the response risk ratio: events and sizes per arm, log RR and "
            "its variance, sources and locators",
        ),
        "rr_pooled": Table(
            f"pooled_rr_response_{TIMEPOINT_LABEL}_by_enantiomer",
            "pooled_rr_response_by_enantiomer",
            "the log risk ratio of response pooled per enantiomer and overall",
        ),
        "time_course": Table(
            "response_time_course",
            "response_time_course_table",
            "pooled response proportion per arm type in every window from 40 min to 28 days",
        ),
    },
    figures={
        "forest": Figure(
            f"forest_rr_response_{TIMEPOINT_LABEL}_by_enantiomer",
            "forest_response_by_enantiomer",
            "the forest plot of the risk ratio of response by enantiomer",
        ),
        "time_course": Figure(
            "response_time_course",
            "response_time_course",
            "pooled response proportions over time, drug and control arms",
        ),
    },
    traced={
        f"rr_response_{TIMEPOINT_LABEL}": Traced(
            "rr_by_study", ("rr_pooled",), ("enantiomer", "route", "study_id"), "ratio"
        ),
    },
)


rule response_tables:
    """Pooled response rates per arm type at the primary timepoint and over time, and the log
    risk ratio of response pooled per enantiomer."""
    input:
        effects="data/processed/effect_sizes.csv",
        validated=validated_tables("outcomes", "arms", "studies"),
    output:
        **RESPONSE.table_paths(),
    log:
        "logs/response_tables.log",
    priority: CRITICAL_PATH
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
        measure=config["response_rates"]["measure"],
        protocol=PROTOCOL,
        scale_preference=config["comparisons"]["scale_preference"],
    script:
        "../scripts/response_tables.py"


rule response_figures:
    """The forest plot of the response risk ratio and the response time course."""
    input:
        **RESPONSE.table_paths(["rr_by_study", "rr_pooled", "time_course"]),
        validation=after_validation,
    output:
        **figure_outputs_of(RESPONSE),
    log:
        "logs/response_figures.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        level=config["pooling"]["level"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/response_figures.py"
