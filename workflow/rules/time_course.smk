# The time-course model of the depression score (PROTOCOL.md §19).

TIME_COURSE = OUTPUTS.register(
    "time_course",
    "Efficacy",
    tables={
        "cells": Table(
            "time_course_smd",
            "time_course_table",
            "the modelled g per formulation and window, none where a cell rests on too few "
            "trials",
        ),
        "contrasts": Table(
            "time_course_smd_contrasts",
            "time_course_contrasts",
            "within-trial contrasts between windows",
        ),
        "observed": Table(
            "time_course_smd_observed",
            "time_course_observed",
            "the observed g the model was fitted to",
        ),
    },
    figures={
        "time_course": Figure(
            "time_course_smd",
            "time_course_figure",
            "every trial's observed g over the windows and the modelled cells, with CIs",
        ),
    },
)


rule time_course_model:
    """Multivariate model of every window's g per formulation (random trial effect, its
    correlation over windows fixed; REML), its sensitivity models, the within-trial contrasts
    between windows, and the observed g it was fitted to."""
    input:
        validated=validated_tables("studies", "arms", "outcomes", "contrasts"),
    output:
        **TIME_COURSE.table_paths(),
    log:
        "logs/time_course_model.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        comparisons=config["comparisons"],
        protocol=PROTOCOL,
        nodes=config["network"]["nodes"],
        time_course=config["time_course"],
        pooling=config["pooling"],
    script:
        "../scripts/time_course_model.py"


rule time_course_figure:
    """Every trial's observed g over the windows, and the modelled g of the cells with enough
    trials, with CIs; no curve through the cells."""
    input:
        **TIME_COURSE.table_paths(["cells", "observed"]),
        validation=after_validation,
    output:
        **figure_outputs(TIME_COURSE.figure("time_course")),
    log:
        "logs/time_course_figure.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        png_dpi=config["figures"]["png_dpi"],
        level=config["pooling"]["level"],
        min_trials=config["time_course"]["min_trials"],
    script:
        "../scripts/time_course_figure.py"
