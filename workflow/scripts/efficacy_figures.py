"""Snakemake entry: the efficacy figures, drawn from the efficacy tables (rule efficacy_figures)."""

from ketamine_meta.evidence.package_files import read_validated_table, validated_path
from ketamine_meta.figures.efficacy_plots import effect_size_benchmark, funnel_plot
from ketamine_meta.figures.labels import hours_text
from ketamine_meta.figures.plotting import deterministic_style, forest_plot, save_figures
from ketamine_meta.io.logs import configure
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL

log = configure(snakemake.log[0])
params = snakemake.params
by_study = read_validated_table(snakemake.input.by_study)
pooled = read_validated_table(snakemake.input.pooled_by_route)
egger = read_validated_table(snakemake.input.publication_bias).iloc[0]
validated = snakemake.input.validated
published = read_validated_table(validated_path(validated, "published_estimates"))
benchmark = published[
    (published["review_id"] == "munkholm2019_cipriani2018")
    & (published["measure"] == "SMD")
    & (published["subgroup"] == "overall")
].iloc[0]
benchmark = benchmark.copy()
benchmark["citation_short"] = "Munkholm 2019, 6-8 weeks"
claims = read_validated_table(validated_path(validated, "claims")).set_index("claim_id")
claimed = (claims.loc["C39", "value_low"], claims.loc["C39", "value_high"])
overall = pooled.set_index("subgroup").loc[OVERALL_LABEL]
with deterministic_style():
    figures = {
        "forest": forest_plot(by_study, pooled, level=params.level),
        "funnel": funnel_plot(
            by_study, overall["estimate"], egger, f"Hedges' g at {hours_text(params.timepoint_h)}"
        ),
        "benchmark": effect_size_benchmark(pooled, benchmark, claimed),
    }
    for path in save_figures(figures, dict(snakemake.output.items()), params.png_dpi):
        log.info("wrote %s", path)
