rule pull:
    """Copy the data package from config data.source (directory, archive or URL) into
    data/processed/package, verifying an archive's SHA-256 first."""
    input:
        get_source_files,
    output:
        directory(PACKAGE_DIR),
    log:
        "logs/pull.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        source=config["data"]["source"],
        sha256=config["data"]["sha256"],
    script:
        "../scripts/pull.py"
