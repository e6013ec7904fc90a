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
