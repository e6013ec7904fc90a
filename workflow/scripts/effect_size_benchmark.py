"""Snakemake entry: ketamine's pooled SMD beside the antidepressant benchmark."""

from pathlib import Path

from ketamine_meta.cli.logs import configure
from ketamine_meta.evidence.package_files import read_validated_table
from ketamine_meta.figures.evidence_plots import effect_size_benchmark
from ketamine_meta.figures.plotting import deterministic_style, save_figure

log = configure(snakemake.log[0])
published = read_validated_table(Path(snakemake.input.validated) / "published_estimates.csv")
benchmark = published[
    (published["review_id"] == "munkholm2019_cipriani2018")
    & (published["measure"] == "SMD")
    & (published["subgroup"] == "overall")
].iloc[0]
benchmark = benchmark.copy()
benchmark["citation_short"] = "Munkholm 2019, 6-8 weeks"
claims = read_validated_table(Path(snakemake.input.validated) / "claims.csv").set_index("claim_id")
claimed = (claims.loc["C39", "value_low"], claims.loc["C39", "value_high"])
with deterministic_style():
    figure = effect_size_benchmark(read_validated_table(snakemake.input.pooled), benchmark, claimed)
    for path in save_figure(figure, dict(snakemake.output.items()), snakemake.params.png_dpi):
        log.info("wrote %s", path)
