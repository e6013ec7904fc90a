# Risk of bias and the GRADE summary of findings (PROTOCOL.md §20).


rule risk_of_bias_and_grade:
    """Risk of bias per trial (with the derived functional-unblinding judgement), its
    sensitivity analyses of the primary 24 h SMD, and the summary of findings with GRADE
    certainty, one comparison per trial (arms of a formulation combined within a trial).
    """
    input:
        validated=VALIDATED_DIR,
        by_study=f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
    output:
        traffic_light="results/tables/risk_of_bias_by_trial.csv",
        sensitivity=f"results/tables/sensitivity_smd_{TIMEPOINT_LABEL}_risk_of_bias.csv",
        summary="results/tables/summary_of_findings.csv",
        page=report(
            "results/report/summary_of_findings.html",
            caption="../report/summary_of_findings_page.rst",
            category="Certainty",
            subcategory="Summary of findings",
            labels={"table": "summary of findings (Cochrane layout)"},
        ),
    log:
        "logs/risk_of_bias_and_grade.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
        protocol=PROTOCOL,
        nodes=config["network"]["nodes"],
        pooling=config["pooling"],
        grade=config["grade"],
    script:
        "../scripts/risk_of_bias_and_grade.py"


rule risk_of_bias_figures:
    """The risk-of-bias traffic-light and summary plots (robvis layouts)."""
    input:
        table="results/tables/risk_of_bias_by_trial.csv",
    output:
        **figure_set_outputs(
            {
                "traffic_light": (
                    "risk_of_bias_traffic_light",
                    "risk_of_bias_traffic_light",
                ),
                "summary": ("risk_of_bias_summary", "risk_of_bias_summary"),
            },
            "Certainty",
        ),
    log:
        "logs/risk_of_bias_figures.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/risk_of_bias_figures.py"
