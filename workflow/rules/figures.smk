rule forest_smd_by_route:
    """Forest plot of Hedges' g at the primary timepoint, grouped by route."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        pooled=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
    output:
        **figure_outputs(
            f"forest_smd_{TIMEPOINT_LABEL}_by_route",
            "forest_smd_by_route",
            "Efficacy",
        ),
    log:
        "logs/forest_smd_by_route.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        level=config["pooling"]["level"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/forest_smd_by_route.py"


rule forest_response_by_enantiomer:
    """Forest plot of the risk ratio of response at the primary timepoint, by enantiomer."""
    input:
        by_study=f"results/tables/rr_response_{TIMEPOINT_LABEL}_by_study.csv",
        pooled=f"results/tables/pooled_rr_response_{TIMEPOINT_LABEL}_by_enantiomer.csv",
    output:
        **figure_outputs(
            f"forest_rr_response_{TIMEPOINT_LABEL}_by_enantiomer",
            "forest_response_by_enantiomer",
            "Response",
        ),
    log:
        "logs/forest_response_by_enantiomer.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        level=config["pooling"]["level"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/forest_response_by_enantiomer.py"


rule response_time_course_figure:
    """Pooled response proportions over time, drug and control arms."""
    input:
        table="results/tables/response_time_course.csv",
    output:
        **figure_outputs(
            "response_time_course",
            "response_time_course",
            "Response",
        ),
    log:
        "logs/response_time_course_figure.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/response_time_course_figure.py"


rule funnel_smd:
    """Funnel plot of the primary analysis with Egger's test."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        pooled=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        bias=f"results/tables/publication_bias_smd_{TIMEPOINT_LABEL}.csv",
    output:
        **figure_outputs(
            f"funnel_smd_{TIMEPOINT_LABEL}",
            "funnel_smd",
            "Sensitivity",
        ),
    log:
        "logs/funnel_smd.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/funnel_smd.py"


rule prisma_flow:
    """PRISMA flow of candidate trials, from the screening log."""
    input:
        validated=VALIDATED_DIR,
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        **figure_outputs(
            "prisma_flow",
            "prisma_flow",
            "Data and audit",
        ),
    log:
        "logs/prisma_flow.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/prisma_flow.py"


rule adverse_event_figure:
    """Risk ratio of an adverse event per trial and pooled (blood pressure, dissociation)."""
    input:
        table="results/tables/adverse_event_rr.csv",
    output:
        **figure_outputs(
            "adverse_event_rr_{event}",
            "adverse_event_figure",
            "Safety",
        ),
    log:
        "logs/adverse_event_figure_{event}.log",
    wildcard_constraints:
        event="blood_pressure|dissociation",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
        event=lambda wc: {
            "blood_pressure": "blood pressure increased",
            "dissociation": "dissociation",
        }[wc.event],
    script:
        "../scripts/adverse_event_figure.py"


rule effect_size_benchmark:
    """Ketamine's pooled SMD beside the antidepressant benchmark."""
    input:
        pooled=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        validated=VALIDATED_DIR,
    output:
        **figure_outputs(
            "effect_size_benchmark",
            "effect_size_benchmark",
            "Efficacy",
        ),
    log:
        "logs/effect_size_benchmark.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/effect_size_benchmark.py"


rule bioavailability_dose_equivalence:
    """IV-equivalent dose by route, with each trial's dose placed on it."""
    input:
        by_route="results/tables/iv_equivalent_dose_by_route.csv",
        validated=VALIDATED_DIR,
    output:
        **figure_outputs(
            "bioavailability_dose_equivalence",
            "bioavailability_dose_equivalence",
            "Dose",
        ),
    log:
        "logs/bioavailability_dose_equivalence.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
        dose=config["dose"],
    script:
        "../scripts/bioavailability_dose_equivalence.py"


rule dose_response_figure:
    """Meta-regression of the SMD at 24 h on IV-equivalent dose."""
    input:
        by_comparison="results/tables/iv_equivalent_dose_by_comparison.csv",
    output:
        **figure_outputs(
            f"dose_response_smd_{TIMEPOINT_LABEL}",
            "dose_response",
            "Dose",
        ),
    log:
        "logs/dose_response_figure.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
        pooling=config["pooling"],
    script:
        "../scripts/dose_response_figure.py"


rule cost_per_responder_figure:
    """Cost per responder by access route."""
    input:
        table="results/tables/cost_per_responder.csv",
    output:
        **figure_outputs(
            "cost_per_responder",
            "cost_per_responder",
            "Claims",
        ),
    log:
        "logs/cost_per_responder_figure.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/cost_per_responder_figure.py"


rule dissociation_vs_effect:
    """The 24 h effect against the share reporting dissociation, where both are known."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        adverse_events="results/tables/adverse_event_rr.csv",
    output:
        **figure_outputs(
            "dissociation_vs_effect",
            "dissociation_vs_effect",
            "Safety",
        ),
    log:
        "logs/dissociation_vs_effect.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
        pooling=config["pooling"],
    script:
        "../scripts/dissociation_vs_effect.py"
