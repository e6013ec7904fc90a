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
# # ketamine-meta audit
#
# Loads the pipeline's results, redraws the main figures from the tables, and shows the claims
# audit and the reproductions of published meta-analyses. The pipeline executes this notebook
# to `results/notebooks/audit.html`; run it from the repository root or from `notebooks/`.

# %%
import io
import json
from pathlib import Path

import pandas as pd
from IPython.display import Image, display

from ketamine_meta.figures.plotting import (
    ROUTE_NAMES,
    ForestLabels,
    deterministic_style,
    forest_plot,
)
from ketamine_meta.figures.relapse_plots import relapse_curves
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL


def show(figure) -> None:
    """Display a Figure built without pyplot: as a PNG, whatever matplotlib backend is set."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    display(Image(data=buffer.getvalue()))


ROOT = Path.cwd() if (Path.cwd() / "results" / "tables").is_dir() else Path.cwd().parent
# Every table is found through the workflow's registry of outputs (results/outputs.json), so
# the notebook follows the configuration (the primary timepoint among it).
REGISTRY = json.loads((ROOT / "results/outputs.json").read_text())


def table(question: str, key: str) -> pd.DataFrame:
    """The registered table ``key`` of the slice ``question``."""
    stem = REGISTRY["slices"][question]["tables"][key]["stem"]
    return pd.read_csv(ROOT / "results/tables" / f"{stem}.csv")


# The package as the pipeline pulled it (config data.source); in a clone with only the
# committed results, the repository's package they were made from.
PACKAGE = next(
    p
    for p in (ROOT / "data/processed/package", ROOT / "data/raw")
    if p.joinpath("datapackage.json").exists()
)
version = json.loads((PACKAGE / "datapackage.json").read_text())["version"]
print(f"data package version {version}")

# %% [markdown]
# ## The primary analysis: Hedges' g at the primary timepoint by route

# %%
by_study = table("efficacy", "by_study")
pooled = table("efficacy", "pooled_by_route")
with deterministic_style():
    figure = forest_plot(by_study, pooled)
show(figure)

# %%
pooled.set_index("subgroup")[["k", "n", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "i2"]]

# %% [markdown]
# ## Response by enantiomer (risk ratio at the primary timepoint)

# %%
rr_by_study = table("response", "rr_by_study")
rr_pooled = table("response", "rr_pooled")
with deterministic_style():
    figure = forest_plot(
        rr_by_study,
        rr_pooled,
        subgroup="enantiomer",
        subgroup_names={"racemic": "Racemic ketamine", "esketamine": "Esketamine"},
        labels=ForestLabels(effect="Risk ratio of response", exponentiate=True),
    )
show(figure)

# %% [markdown]
# ## Relapse after response (summary fits)

# %%
relapse = table("relapse", "by_study")
with deterministic_style():
    figure = relapse_curves(relapse, "route", group_names=ROUTE_NAMES)
show(figure)

# %% [markdown]
# ## Claims audit

# %%
claims = table("claims", "audit")
print(claims["verdict"].value_counts().to_string())
tested = claims[claims["verdict"] != "not testable with these data"]
tested[["claim_id", "quantity", "computed", "verdict", "why"]]

# %% [markdown]
# ## Published meta-analyses beside ours

# %%
reproductions = table("claims", "reproductions")
reproductions[
    [
        "reproduction",
        "measure",
        "published",
        "published_ci_low",
        "published_ci_high",
        "ours",
        "ours_ci_low",
        "ours_ci_high",
        "ours_k",
        "difference",
        "difference_ci_low",
        "difference_ci_high",
        "agreement",
    ]
]

# %%
overall = pooled.set_index("subgroup").loc[OVERALL_LABEL]
assert claims["claim_id"].is_unique and len(claims) == len(pd.read_csv(PACKAGE / "claims.csv"))
print(
    f"overall g at 24 h: {overall['estimate']:.2f} [{overall['ci_low']:.2f}, {overall['ci_high']:.2f}]"
)
