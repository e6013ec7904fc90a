# `snakemake --report results/report.html` (run by `make`) collects every output marked
# with report() together with its caption from workflow/report/.

report: "../report/workflow.rst"


rule audit_notebook:
    """Execute the audit notebook on the results and render it to HTML."""
    input:
        notebook="notebooks/audit.py",
        tables=[
            f"results/tables/smd_{TIMEPOINT_LABEL}_by_study.csv",
            f"results/tables/pooled_smd_{TIMEPOINT_LABEL}_by_route.csv",
            f"results/tables/rr_response_{TIMEPOINT_LABEL}_by_study.csv",
            f"results/tables/pooled_rr_response_{TIMEPOINT_LABEL}_by_enantiomer.csv",
            "results/tables/relapse_by_study.csv",
            "results/tables/claims_audit.csv",
            "results/tables/reproductions.csv",
        ],
    output:
        html="results/notebooks/audit.html",
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/audit_notebook.log",
    script:
        "../scripts/audit_notebook.py"
