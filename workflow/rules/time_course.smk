# The time-course model of the depression score (PROTOCOL.md §19).


rule time_course_model:
    """Multivariate model of every window's g per formulation (AR over windows, REML), with
    its sensitivity models, and the observed g it was fitted to."""
    input:
        effects="data/processed/effect_sizes.csv",
    output:
        cells="results/tables/time_course_smd.csv",
        observed="results/tables/time_course_smd_observed.csv",
    log:
        "logs/time_course_model.log",
    conda:
        "../envs/ketamine_meta.yaml"
    params:
        protocol=PROTOCOL,
        nodes=config["network"]["nodes"],
        time_course=config["time_course"],
        level=config["pooling"]["level"],
    script:
        "../scripts/time_course_model.py"


rule time_course_figure:
    """The modelled course per formulation, with CIs, and every comparison's observed g."""
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
    script:
        "../scripts/time_course_figure.py"
