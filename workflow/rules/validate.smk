rule validate:
    """Check the package against datapackage.json and the cross-field rules; write typed
    tables only if every check passes."""
    input:
        PACKAGE_DIR,
    output:
        directory(VALIDATED_DIR),
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/validate.log",
    script:
        "../scripts/validate.py"


rule data_package_summary:
    """The data package's version and row counts, for the report and the audit trail."""
    input:
        package=PACKAGE_DIR,
        validated=VALIDATED_DIR,
    output:
        table=report(
            "results/tables/data_package_summary.csv",
            caption="../report/data_package_summary.rst",
            category="Data",
        ),
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/data_package_summary.log",
    script:
        "../scripts/data_package_summary.py"
