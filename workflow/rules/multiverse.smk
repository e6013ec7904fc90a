# The multiverse of the primary 24 h analyses (PROTOCOL.md §21): per outcome of
# multiverse.outcomes (the SMD, the log RR of response), the data specifications scattered over
# chunks and gathered; and the inclusion multiverse of the primary SMD specification (§21.2).

MULTIVERSE_OUTCOMES = {
    entry["name"]: entry for entry in config["multiverse"]["outcomes"]
}
MULTIVERSE_FIGURES = {
    "curve": "the specification curve of the primary estimand's kept specifications",
    "distribution": "the distribution of the distinct fits by estimand and subgroup",
}


# One summary, two figures and two files per outcome, from one template each ({outcome} is
# the rules' wildcard).
MULTIVERSE_SUMMARY = Table(
    f"multiverse_summary_{{outcome}}_{TIMEPOINT_LABEL}",
    "multiverse_summary_{outcome}",
    "the {outcome} multiverse summarised per estimand and subgroup",
    "Sensitivity",
)
MULTIVERSE_FIGURE = {
    name: Figure(
        f"multiverse_{name}_{{outcome}}_{TIMEPOINT_LABEL}", f"multiverse_{name}", about
    )
    for name, about in MULTIVERSE_FIGURES.items()
}
MULTIVERSE_FILES = {
    "specifications": File(
        f"results/multiverse/multiverse_{{outcome}}_{TIMEPOINT_LABEL}.csv.gz",
        "every specification of the {outcome} multiverse and its fit",
    ),
    "data_specifications": File(
        f"results/multiverse/data_specifications_{{outcome}}_{TIMEPOINT_LABEL}.csv",
        "the data choices of each data set of the {outcome} multiverse",
    ),
}


MULTIVERSE = OUTPUTS.register(
    "multiverse",
    "Sensitivity",
    tables={
        **{
            f"{outcome}_summary": MULTIVERSE_SUMMARY.expand(outcome=outcome)
            for outcome in MULTIVERSE_OUTCOMES
        },
        "inclusion": Table(
            f"multiverse_inclusion_smd_{TIMEPOINT_LABEL}",
            "multiverse_inclusion",
            "the primary SMD pooled over every subset of its trials leaving out at most "
            "multiverse.inclusion_drop of them",
        ),
    },
    figures={
        f"{outcome}_{name}": MULTIVERSE_FIGURE[name].expand(outcome=outcome)
        for outcome in MULTIVERSE_OUTCOMES
        for name in MULTIVERSE_FIGURES
    },
    files={
        f"{outcome}_{key}": file.expand(outcome=outcome)
        for outcome in MULTIVERSE_OUTCOMES
        for key, file in MULTIVERSE_FILES.items()
    },
)


rule multiverse_chunk:
    """Fit one chunk of an outcome's data specifications, each estimator and CI method one
    batch."""
    input:
        validated=validated_tables(
            "studies", "arms", "outcomes", "contrasts", "risk_of_bias"
        ),
    output:
        table="data/processed/multiverse/{outcome}/chunk_{chunk}.csv",
    log:
        "logs/multiverse_chunk_{outcome}_{chunk}.log",
    wildcard_constraints:
        outcome="|".join(MULTIVERSE_OUTCOMES),
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
        outcome=lambda wildcards: MULTIVERSE_OUTCOMES[wildcards.outcome],
        level=config["pooling"]["level"],
        chunks=config["multiverse"]["chunks"],
        bayesian=config["bayesian"],
    script:
        "../scripts/multiverse_chunk.py"


rule multiverse_gather:
    """Every specification of an outcome in one byte-reproducible file, and the summary per
    estimand and subgroup over distinct data sets and fits (PROTOCOL.md §21.3)."""
    input:
        chunks=lambda wildcards: expand(
            "data/processed/multiverse/{outcome}/chunk_{chunk}.csv",
            outcome=wildcards.outcome,
            chunk=range(config["multiverse"]["chunks"]),
        ),
    output:
        **{key: file.path for key, file in MULTIVERSE_FILES.items()},
        summary=MULTIVERSE_SUMMARY.path,
    log:
        "logs/multiverse_gather_{outcome}.log",
    wildcard_constraints:
        outcome="|".join(MULTIVERSE_OUTCOMES),
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        multiverse=config["multiverse"],
        outcome=lambda wildcards: MULTIVERSE_OUTCOMES[wildcards.outcome],
        pooling=config["pooling"],
    script:
        "../scripts/multiverse_gather.py"


rule multiverse_figures:
    """The specification curve of the primary estimand's kept specifications (overall) and the
    distribution of the distinct fits by estimand and subgroup (PROTOCOL.md §21.3)."""
    input:
        **{key: file.path for key, file in MULTIVERSE_FILES.items()},
        validation=after_validation,
    output:
        **figure_set_outputs(
            MULTIVERSE_FIGURE,
            "Sensitivity",
        ),
    log:
        "logs/multiverse_figures_{outcome}.log",
    wildcard_constraints:
        outcome="|".join(MULTIVERSE_OUTCOMES),
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        measure=lambda wildcards: MULTIVERSE_OUTCOMES[wildcards.outcome]["measure"],
        estimand_choices=config["multiverse"]["estimand_choices"],
        timepoint_h=config["pooling"]["timepoint_h"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/multiverse_figures.py"


rule multiverse_inclusion:
    """Every subset of the primary SMD specification's trials that leaves out at most
    multiverse.inclusion_drop of them, pooled by the primary model, summarised per subgroup.
    """
    input:
        validated=validated_tables(
            "studies", "arms", "outcomes", "contrasts", "risk_of_bias"
        ),
    output:
        table=MULTIVERSE.table("inclusion").path,
    log:
        "logs/multiverse_inclusion.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
        protocol=PROTOCOL,
        multiverse=config["multiverse"],
        outcome=MULTIVERSE_OUTCOMES["smd"],
        pooling=config["pooling"],
    script:
        "../scripts/multiverse_inclusion.py"
