# Screening (PROTOCOL.md §5): the PRISMA 2020 flow of candidate trials, from the screening log
# (ketamine_meta.analyses.screening, figures.screening_plots).

SCREENING = OUTPUTS.register(
    "screening",
    "Data and audit",
    figures={
        "prisma": Figure(
            "prisma_flow",
            "prisma_flow",
            "the PRISMA flow of candidate trials, from the screening log",
        ),
    },
)


rule prisma_flow:
    """PRISMA flow of candidate trials, from the screening log."""
    input:
        validated=validated_tables("screening", "studies", "relapse"),
        by_study=EFFICACY.table("by_study").path,
    output:
        **figure_outputs(SCREENING.figure("prisma")),
    log:
        "logs/prisma_flow.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        timepoint_h=config["pooling"]["timepoint_h"],
        png_dpi=config["figures"]["png_dpi"],
    script:
        "../scripts/prisma_flow.py"
