# The time-course model of the depression score (PROTOCOL.md §19).


rule time_course_model:
    """Multivariate model of every window's g per formulation (random trial effect, its
    correlation over windows fixed; REML), its sensitivity models, the within-trial contrasts
    between windows, and the observed g it was fitted to."""
    input:
        validated=VALIDATED_DIR,
    output:
        cells="results/tables/time_course_smd.csv",
        contrasts="results/tables/time_course_smd_contrasts.csv",
        observed="results/tables/time_course_smd_observed.csv",
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
        cells="results/tables/time_course_smd.csv",
        observed="results/tables/time_course_smd_observed.csv",
    output:
        **figure_outputs("time_course_smd", "time_course_figure", "Efficacy"),
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
