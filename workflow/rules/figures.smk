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



rule forest_response_by_enantiomer:
    """Forest plot of the risk ratio of response at the primary timepoint, by enantiomer."""
    input:
        by_study=f"results/tables/rr_response_{TIMEPOINT_LABEL}_by_study.csv",
        pooled=f"results/tables/pooled_rr_response_{TIMEPOINT_LABEL}_by_enantiomer.csv",
    output:
        **figure_outputs("forest_response_by_enantiomer", "forest_response_by_enantiomer", "response RR"),
    params:
        level=config["pooling"]["level"],
        png_dpi=config["figures"]["png_dpi"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/forest_response_by_enantiomer.log",
    script:
        "../scripts/forest_response_by_enantiomer.py"


rule response_time_course_figure:
    """Pooled response proportions over time, drug and control arms."""
    input:
        table="results/tables/response_time_course.csv",
    output:
        **figure_outputs("response_time_course", "response_time_course", "response time course"),
    params:
        png_dpi=config["figures"]["png_dpi"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/response_time_course_figure.log",
    script:
        "../scripts/response_time_course_figure.py"


rule funnel_smd:
    """Funnel plot of the primary analysis with Egger's test."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        pooled=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        bias=f"results/tables/publication_bias_smd_{TIMEPOINT_LABEL}.csv",
    output:
        **figure_outputs(f"funnel_smd_{TIMEPOINT_LABEL}", "funnel_smd", "funnel plot"),
    params:
        png_dpi=config["figures"]["png_dpi"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/funnel_smd.log",
    script:
        "../scripts/funnel_smd.py"


rule prisma_flow:
    """PRISMA flow of candidate trials, from the screening log."""
    input:
        validated=VALIDATED_DIR,
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        **figure_outputs("prisma_flow", "prisma_flow", "PRISMA flow"),
    params:
        png_dpi=config["figures"]["png_dpi"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/prisma_flow.log",
    script:
        "../scripts/prisma_flow.py"


rule adverse_event_figure:
    """Risk ratio of an adverse event per trial and pooled (blood pressure, dissociation)."""
    input:
        table="results/tables/adverse_event_rr.csv",
    output:
        **figure_outputs("{stem}", "adverse_event_figure", "{stem}"),
    wildcard_constraints:
        stem="blood_pressure|dissociation_adverse_events",
    params:
        png_dpi=config["figures"]["png_dpi"],
        event=lambda wc: {
            "blood_pressure": "blood pressure increased",
            "dissociation_adverse_events": "dissociation",
        }[wc.stem],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/{stem}.log",
    script:
        "../scripts/adverse_event_figure.py"


rule effect_size_benchmark:
    """Ketamine's pooled SMD beside the antidepressant benchmark."""
    input:
        pooled=f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
        validated=VALIDATED_DIR,
    output:
        **figure_outputs("effect_size_benchmark", "effect_size_benchmark", "effect size benchmark"),
    params:
        png_dpi=config["figures"]["png_dpi"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/effect_size_benchmark.log",
    script:
        "../scripts/effect_size_benchmark.py"


rule bioavailability_dose_equivalence:
    """IV-equivalent dose by route, with each trial's dose placed on it."""
    input:
        by_route="results/tables/iv_equivalent_dose_by_route.csv",
        validated=VALIDATED_DIR,
    output:
        **figure_outputs("bioavailability_dose_equivalence", "bioavailability_dose_equivalence", "bioavailability"),
    params:
        png_dpi=config["figures"]["png_dpi"],
        dose=config["dose"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/bioavailability_dose_equivalence.log",
    script:
        "../scripts/bioavailability_dose_equivalence.py"


rule dose_response_figure:
    """Meta-regression of the SMD at 24 h on IV-equivalent dose."""
    input:
        by_comparison="results/tables/iv_equivalent_dose_by_comparison.csv",
    output:
        **figure_outputs("dose_response", "dose_response", "dose response"),
    params:
        png_dpi=config["figures"]["png_dpi"],
        pooling=config["pooling"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/dose_response_figure.log",
    script:
        "../scripts/dose_response_figure.py"


rule cost_per_responder_figure:
    """Cost per responder by access route."""
    input:
        table="results/tables/cost_per_responder.csv",
    output:
        **figure_outputs("cost_per_responder", "cost_per_responder", "cost per responder"),
    params:
        png_dpi=config["figures"]["png_dpi"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/cost_per_responder_figure.log",
    script:
        "../scripts/cost_per_responder_figure.py"


rule dissociation_vs_effect:
    """The 24 h effect against the share reporting dissociation, where both are known."""
    input:
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
        adverse_events="results/tables/adverse_event_rr.csv",
    output:
        **figure_outputs("dissociation_vs_effect", "dissociation_vs_effect", "dissociation vs effect"),
    params:
        png_dpi=config["figures"]["png_dpi"],
        pooling=config["pooling"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/dissociation_vs_effect.log",
    script:
        "../scripts/dissociation_vs_effect.py"
