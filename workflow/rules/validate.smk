# The data package: checked against the canonical schema, and summarised for the report.

DATA = OUTPUTS.register(
    "data",
    "Data and audit",
    tables={
        "summary": Table(
            "data_package_summary",
            "data_package_summary",
            "the data package's version and row counts",
        ),
    },
)


checkpoint validate:
    """Check the package against the canonical schema (its datapackage.json must state the
    same rules) and the cross-field rules; write typed tables only if every check passes.
    """
    input:
        package=PACKAGE_DIR,
        schema=WORKFLOW_DIR / "schemas" / "datapackage.schema.json",
    output:
        directory(VALIDATED_DIR),
    log:
        "logs/validate.log",
    conda:
        "../envs/ketamine_meta.yaml"
    script:
        "../scripts/validate.py"


rule data_package_summary:
    """The data package's version and row counts, for the report and the audit trail."""
    input:
        package=PACKAGE_DIR,
        validated=validated_tables(),
    output:
        table=DATA.table("summary").path,
    log:
        "logs/data_package_summary.log",
    conda:
        "../envs/ketamine_meta.yaml"
    script:
        "../scripts/data_package_summary.py"
