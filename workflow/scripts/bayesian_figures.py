"""Snakemake entry: the Bayesian figures, drawn from the Bayesian tables (rule bayesian_figures)."""

from ketamine_meta.analyses.bayesian import BayesianProtocol
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.bayesian_plots import posterior_plot, shrinkage_forest
from ketamine_meta.figures.plotting import deterministic_style, save_figures
from ketamine_meta.io.logs import configure

log = configure(snakemake.log[0])
bayes = BayesianProtocol.from_config(snakemake.params.bayesian)
labels = {p.name: p.label for p in bayes.priors["SMD"]}
curves = read_validated_table(snakemake.input.curves)
shrinkage = read_validated_table(snakemake.input.shrinkage)
with deterministic_style():
    figures = {
        "posterior": posterior_plot(curves, labels, snakemake.params.timepoint_h),
        "shrinkage": shrinkage_forest(shrinkage, labels, snakemake.params.timepoint_h),
    }
    for path in save_figures(figures, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
