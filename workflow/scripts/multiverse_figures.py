"""Snakemake entry: the multiverse's specification curve and distribution of estimates.

Both count analyses, not labels (PROTOCOL.md §21.3).
"""

import pandas as pd

from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.multiverse_plots import estimate_distribution, specification_curve
from ketamine_meta.figures.plotting import deterministic_style, save_figures
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
measure = snakemake.params.measure
estimands = snakemake.params.estimand_choices
table = pd.read_csv(snakemake.input.specifications, keep_default_na=False, na_values=[""])
table = table.merge(read_validated_table(snakemake.input.data_specifications), on="data_spec")
with deterministic_style():
    figures = {
        "curve": specification_curve(
            table, estimands, measure=measure, timepoint_h=snakemake.params.timepoint_h
        ),
        "distribution": estimate_distribution(
            table, estimands, measure=measure, timepoint_h=snakemake.params.timepoint_h
        ),
    }
    for path in save_figures(figures, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
