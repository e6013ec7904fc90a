# Dose (PROTOCOL.md §13): doses on one IV-equivalent scale through each route's
# bioavailability, the dose-response meta-regression, and the cost of a responder. One job
# writes the tables, one draws the figures (ketamine_meta.analyses.dose, figures.dose_plots).

DOSE = OUTPUTS.register(
    "dose",
    "Dose",
    tables={
        "by_route": Table(
            "iv_equivalent_dose_by_route",
            "iv_equivalent_dose_by_route",
            "bioavailability and the IV-equivalent dose per route and enantiomer, pooled over "
            "cohorts",
        ),
        "arm_doses": Table(
            "racemic_arm_doses",
            "racemic_arm_doses",
            "each racemic ketamine arm's dose in mg for the configured body weight",
        ),
        "by_comparison": Table(
            "iv_equivalent_dose_by_comparison",
            "iv_equivalent_dose_by_comparison",
            "each primary comparison's dose on the IV-equivalent scale",
        ),
        "dose_response": Table(
            f"dose_response_smd_{TIMEPOINT_LABEL}",
            "dose_response_table",
            "the meta-regression of g on IV-equivalent dose: coefficients, tau², R², the test",
        ),
        "dose_response_line": Table(
            f"dose_response_smd_{TIMEPOINT_LABEL}_line",
            "dose_response_line",
            "its fitted line and confidence band over the observed doses",
        ),
        "cost": Table(
            "cost_per_responder",
            "cost_per_responder_table",
            "the cost of a course per responder by access route",
            "Claims",
        ),
    },
    figures={
        "bioavailability": Figure(
            "bioavailability_dose_equivalence",
            "bioavailability_dose_equivalence",
            "the IV-equivalent dose by route, with each trial's dose placed on it",
        ),
        "dose_response": Figure(
            f"dose_response_smd_{TIMEPOINT_LABEL}",
            "dose_response",
            "g against IV-equivalent dose with the meta-regression line",
        ),
        "cost": Figure(
            "cost_per_responder",
            "cost_per_responder",
            "the cost per responder by access route",
            "Claims",
        ),
    },
)


rule dose_tables:
    """IV-equivalent doses by route and per comparison, the dose-response meta-regression of
    the primary analysis with its line, and the cost per responder."""
    input:
        validated=validated_tables("bioavailability", "arms"),
        by_study=EFFICACY.table("by_study").path,
        rates=RESPONSE.table("rates").path,
    output:
        **DOSE.table_paths(),
    log:
        "logs/dose_tables.log",
    priority: CRITICAL_PATH
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        dose=config["dose"],
        pooling=config["pooling"],
        costs=config["costs"],
    script:
        "../scripts/dose_tables.py"


rule dose_figures:
    """Bioavailability by route, dose-response and cost per responder, from the dose tables."""
    input:
        **DOSE.table_paths(),
    output:
        **figure_outputs_of(DOSE),
    log:
        "logs/dose_figures.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        dose=config["dose"],
        timepoint_h=config["pooling"]["timepoint_h"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/dose_figures.py"
