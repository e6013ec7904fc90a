rule pull:
    """Copy the data package from config data.source (directory, archive or URL) into
    data/processed/package, verifying an archive's SHA-256 first."""
    input:
        get_source_files,
    output:
        directory(PACKAGE_DIR),
    params:
        source=config["data"]["source"],
        sha256=config["data"]["sha256"],
    conda:
        "../envs/ketamine_meta.yaml"
    log:
        "logs/pull.log",
    script:
        "../scripts/pull.py"
