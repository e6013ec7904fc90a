# The multiverse of the primary 24 h SMD (PROTOCOL.md §21), scattered over chunks and gathered.


rule multiverse_chunk:
    """Fit one chunk of the data specifications, each estimator and CI method one batch."""
    input:
        validated=VALIDATED_DIR,
    output:
        table="data/processed/multiverse/chunk_{chunk}.csv",
    log:
        "logs/multiverse_chunk_{chunk}.log",
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        "../envs/ketamine_meta.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        comparisons=config["comparisons"],
        protocol=PROTOCOL,
        multiverse=config["multiverse"],
        level=config["pooling"]["level"],
        chunks=config["multiverse"]["chunks"],
    script:
        "../scripts/multiverse_chunk.py"


rule multiverse_gather:
    """Every specification in one byte-reproducible file, and the summary per subgroup."""
    input:
        chunks=expand(
            "data/processed/multiverse/chunk_{chunk}.csv",
            chunk=range(config["multiverse"]["chunks"]),
        ),
    output:
        specifications=f"results/multiverse/multiverse_smd_{TIMEPOINT_LABEL}.csv.gz",
        data_specifications="results/multiverse/data_specifications.csv",
        summary=f"results/tables/multiverse_summary_smd_{TIMEPOINT_LABEL}.csv",
    log:
        "logs/multiverse_gather.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        multiverse=config["multiverse"],
    script:
        "../scripts/multiverse_gather.py"


rule multiverse_figures:
    """The specification curve of the overall estimate and the distribution by subgroup."""
    input:
        specifications=f"results/multiverse/multiverse_smd_{TIMEPOINT_LABEL}.csv.gz",
        data_specifications="results/multiverse/data_specifications.csv",
    output:
        **figure_set_outputs(
            {
                name: (
                    f"multiverse_{name}_smd_{TIMEPOINT_LABEL}",
                    f"multiverse_{name}",
                )
                for name in ("curve", "distribution")
            },
            "Sensitivity",
        ),
    log:
        "logs/multiverse_figures.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/multiverse_figures.py"
