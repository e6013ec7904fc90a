# `snakemake --report results/report.html` (run by `make`) collects every output marked
# with report() together with its caption from workflow/report/. Its landing page is
# results/report/landing.rst (the workflow's description and the headline results); every
# table is shown in the page as HTML, with its CSV as a download inside it.

from ketamine_meta.figures.headline import HEADLINE_TABLES


# The landing page is a result of the run, so it is found in the working directory.
report: os.path.abspath("results/report/landing.rst")


AUDIT = OUTPUTS.register(
    "audit",
    "Data and audit",
    files={
        "notebook": File(
            "results/notebooks/audit.html",
            "the audit notebook (notebooks/audit.py) executed on the results (not committed)",
        ),
        "headline": File(
            "results/report/headline.md",
            "the headline results in Markdown, as the README shows them (the report's landing "
            "page has the same)",
        ),
    },
)


rule report_tables:
    """Every results table as an HTML page of the report (its CSV inside as a download), with
    its caption; one job for all, as each page is milliseconds of work and a job each would
    spend most of its time starting Python (benchmarks/pipeline.py)."""
    input:
        **{stem: table.path for stem, table in OUTPUTS.tables().items()},
    output:
        **table_page_outputs(),
        captions=[f"results/report/captions/{stem}.rst" for stem in OUTPUTS.tables()],
    log:
        "logs/report_tables.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        tables=list(OUTPUTS.tables()),
        captions={
            stem: table_caption(table) for stem, table in OUTPUTS.tables().items()
        },
    script:
        "../scripts/table_pages.py"


rule report_landing:
    """The report's first page: the workflow's description and the headline results."""
    input:
        # The tables the headline of the landing page and of the README is read from.
        **{
            name: OUTPUTS.slices[piece].table(key).path
            for name, (piece, key) in HEADLINE_TABLES.items()
        },
        description=REPORT_CAPTIONS / "workflow.rst",
        claims=CLAIMS.table("audit").path,
        what_changed=rules.what_changed.output.table,
        release=NEWEST_RELEASE,
    output:
        landing="results/report/landing.rst",
        # The same headline in Markdown, for the README (tools/update_readme.py).
        headline=AUDIT.files["headline"].path,
    log:
        "logs/report_landing.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        pooling=config["pooling"],
    script:
        "../scripts/report_landing.py"


rule output_registry:
    """Every registered output as results/outputs.json, for readers outside Snakemake
    (`ketamine-meta explain`, the README's table of outputs); rewritten when a registration
    changes. A script, not a run: block, which Snakemake would run in a new Snakemake process
    that parses the whole workflow again."""
    output:
        REGISTRY_FILE,
    log:
        "logs/output_registry.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        registry=OUTPUTS.to_json(),
    script:
        "../scripts/output_registry.py"


rule audit_notebook:
    """Execute the audit notebook on the results and render it to HTML."""
    input:
        notebook=AUDIT_NOTEBOOK,
        # The package as pulled (data.source), whose version and claims the notebook reads.
        package=PACKAGE_DIR,
        tables=[
            EFFICACY.table("by_study").path,
            EFFICACY.table("pooled_by_route").path,
            RESPONSE.table("rr_by_study").path,
            RESPONSE.table("rr_pooled").path,
            RELAPSE.table("by_study").path,
            CLAIMS.table("audit").path,
            CLAIMS.table("reproductions").path,
        ],
        registry=REGISTRY_FILE,
    output:
        html=report(
            AUDIT.files["notebook"].path,
            caption="../report/audit_notebook.rst",
            category="Data and audit",
            subcategory="Audit notebook",
            labels={"notebook": "audit"},
        ),
    log:
        "logs/audit_notebook.log",
    priority: CRITICAL_PATH
    conda:
        "../envs/ketamine_meta.yaml"
    script:
        "../scripts/audit_notebook.py"


rule results_manifest:
    """The SHA-256 of every committed output, written last: `make` (tools/run_pipeline.py)
    rebuilds a result whose bytes no longer match, an edit by hand, instead of letting the
    rules downstream take it as input. The executed notebook embeds run-specific details and
    is not committed, so it is not listed."""
    input:
        outputs=[
            path
            for path in get_final_outputs()
            if not path.startswith("results/notebooks/")
        ],
        captions=rules.report_tables.output.captions,
    output:
        "results/manifest.tsv",
    log:
        "logs/results_manifest.log",
    conda:
        "../envs/ketamine_meta.yaml"
    script:
        "../scripts/results_manifest.py"
