"""Snakemake entry: the response figures, drawn from the response tables (rule response_figures)."""

from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.plotting import (
    ForestLabels,
    deterministic_style,
    forest_plot,
    save_figures,
)
from ketamine_meta.figures.response_plots import response_time_course_plot
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
labels = ForestLabels(effect="Risk ratio of response", exponentiate=True)
names = {"racemic": "Racemic ketamine", "esketamine": "Esketamine", "arketamine": "Arketamine"}
with deterministic_style():
    figures = {
        "forest": forest_plot(
            read_validated_table(snakemake.input.rr_by_study),
            read_validated_table(snakemake.input.rr_pooled),
            subgroup="enantiomer",
            subgroup_names=names,
            labels=labels,
            level=snakemake.params.level,
        ),
        "time_course": response_time_course_plot(read_validated_table(snakemake.input.time_course)),
    }
    for path in save_figures(figures, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
