"""Snakemake entry: the dose-response meta-regression figure."""

from ketamine_meta.analyses.pooled import dose_response
from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.evidence_plots import dose_response_plot
from ketamine_meta.figures.plotting import deterministic_style, save_figure

log = configure(snakemake.log[0])
doses = read_validated_table(snakemake.input.by_comparison).dropna(
    subset=["iv_equivalent_mg_per_kg"]
)
coefficients, line = dose_response(doses, snakemake.params.pooling)
slope = coefficients.iloc[1]
text = (
    f"Slope {slope['estimate']:.2f} per mg/kg [{slope['ci_low']:.2f}, {slope['ci_high']:.2f}], "
    f"p = {slope['pval']:.3f}, k = {int(slope['k'])}"
)
with deterministic_style():
    figure = dose_response_plot(doses.reset_index(drop=True), line, text)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
