rule validate:
    """Check the package against datapackage.json and the cross-field rules; write typed
    tables only if every check passes."""
    input:
        PACKAGE_DIR,
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
        validated=VALIDATED_DIR,
    output:
        table="results/tables/data_package_summary.csv",
    log:
        "logs/data_package_summary.log",
    conda:
        "../envs/ketamine_meta.yaml"
    script:
        "../scripts/data_package_summary.py"
