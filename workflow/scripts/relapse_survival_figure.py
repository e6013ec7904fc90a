"""Snakemake entry: relapse-free curves grouped by route or enantiomer."""

from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.plotting import ROUTE_NAMES, deterministic_style, save_figure
from ketamine_meta.figures.relapse_plots import relapse_curves
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
grouping = snakemake.wildcards.grouping
by_study = read_validated_table(snakemake.input.by_study)
names = ROUTE_NAMES if grouping == "route" else {}
with deterministic_style():
    figure = relapse_curves(by_study, grouping, level=snakemake.params.level, group_names=names)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
