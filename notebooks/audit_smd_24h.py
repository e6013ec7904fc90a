# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Audit: pooled SMD at 24 h by route
#
# Recomputes every pooled number of `results/tables/pooled_smd_24h_by_route.csv` from the
# per-comparison table, and traces each comparison to the documents its numbers were read from.
# Run from the repository root or from `notebooks/`.

# %%
from pathlib import Path

import pandas as pd

from ketamine_meta.analyses.pooling import trial_means
from ketamine_meta.figures.plotting import deterministic_style, forest_plot
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL, random_effects

ROOT = Path.cwd() if (Path.cwd() / "workflow" / "Snakefile").exists() else Path.cwd().parent
by_study = pd.read_csv(ROOT / "results/tables/smd_24h_by_study.csv")
pooled = pd.read_csv(ROOT / "results/tables/pooled_smd_24h_by_route.csv").set_index("subgroup")
sources = pd.read_csv(ROOT / "data/raw/sources.csv").set_index("source_id")
by_study[["label", "route", "n_treat", "n_ctrl", "yi", "vi", "data_basis"]]

# %% [markdown]
# ## Every pooled row, recomputed

# %%
checks = []
for name, rows in [*by_study.groupby("route"), (OVERALL_LABEL, by_study)]:
    row = pooled.loc[name]
    # One estimate per trial (PROTOCOL.md §11), by the model the table names.
    means = trial_means(rows)
    fit = random_effects(means["yi"], means["vi"], method=row["method"], test=row["test"])
    checks.append(
        {
            "subgroup": name,
            "trials": fit.k,
            "estimate": fit.estimate,
            "table_estimate": row["estimate"],
            "max_abs_difference": max(
                abs(fit.estimate - row["estimate"]),
                abs(fit.ci_low - row["ci_low"]),
                abs(fit.ci_high - row["ci_high"]),
                abs(fit.tau2 - row["tau2"]),
            ),
        }
    )
checks = pd.DataFrame(checks)
assert (checks["max_abs_difference"] < 1e-9).all(), checks
checks

# %% [markdown]
# ## Where every number came from

# %%
trace = by_study[["comparison_id", "source_id_treat", "locator_treat", "locator_ctrl"]].copy()
trace["url"] = trace["source_id_treat"].map(sources["url"])
assert trace["url"].notna().all()
trace

# %% [markdown]
# ## The forest plot, redrawn

# %%
with deterministic_style():
    figure = forest_plot(by_study, pooled.reset_index())
figure
