# Risk of bias and the GRADE summary of findings (PROTOCOL.md §20).

CERTAINTY = OUTPUTS.register(
    "certainty",
    "Certainty",
    tables={
        "traffic_light": Table(
            "risk_of_bias_by_trial",
            "risk_of_bias_by_trial",
            "risk of bias per trial and domain, with the derived functional-unblinding judgement",
        ),
        "sensitivity": Table(
            f"sensitivity_smd_{TIMEPOINT_LABEL}_risk_of_bias",
            "sensitivity_risk_of_bias",
            "the primary g without the trials at high risk of bias, per domain",
        ),
        "summary": Table(
            "summary_of_findings",
            "summary_of_findings",
            "the summary of findings with GRADE certainty, one comparison per trial",
        ),
    },
    figures={
        "traffic_light": Figure(
            "risk_of_bias_traffic_light",
            "risk_of_bias_traffic_light",
            "the risk-of-bias traffic-light plot",
        ),
        "summary": Figure(
            "risk_of_bias_summary",
            "risk_of_bias_summary",
            "the risk-of-bias summary plot",
        ),
    },
    files={
        "page": File(
            "results/report/summary_of_findings.html",
            "the summary of findings in the Cochrane layout, as a page of the report",
        )
    },
)


rule risk_of_bias_and_grade:
    """Risk of bias per trial (with the derived functional-unblinding judgement), its
    sensitivity analyses of the primary 24 h SMD, and the summary of findings with GRADE
    certainty, one comparison per trial (arms of a formulation combined within a trial).
    """
    input:
        validated=validated_tables(
            "studies",
            "arms",
            "outcomes",
            "contrasts",
            "adverse_events",
            "risk_of_bias",
        ),
        by_study=EFFICACY.table("by_study").path,
    output:
        **CERTAINTY.table_paths(),
        page=report(
            CERTAINTY.files["page"].path,
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
        table=CERTAINTY.table("traffic_light").path,
        validation=after_validation,
    output:
        **figure_outputs_of(CERTAINTY),
    log:
        "logs/risk_of_bias_figures.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/risk_of_bias_figures.py"
