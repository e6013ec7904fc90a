rule validate:
    """Check the package against datapackage.json and the cross-field rules; write typed
    tables only if every check passes."""
    input:
        PACKAGE_DIR,
    output:
        **get_validated_tables(),
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/validate.log",
    script:
        "../scripts/validate.py"
