"""What lets the pipeline run on a large or sparse evidence base (benchmarks/scale.py).

A synthetic package has no head-to-head trial and no risk-of-bias judgement, and at scale it
has hundreds of trials per forest plot: each stage must still give a table and a readable
figure. The entry scripts log their start-up and process time for benchmarks/pipeline.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, validated_package
from ketamine_meta.analyses.comparisons import (
    EFFECT_SIZE_COLUMNS,
    ComparisonRules,
    build_effect_sizes,
)
from ketamine_meta.analyses.multiverse import chunk_specifications, fit_specifications
from ketamine_meta.analyses.protocol import Protocol
from ketamine_meta.evidence.synthetic import write_synthetic_package
from ketamine_meta.figures.certainty_plots import summary_plot, traffic_light_plot
from ketamine_meta.figures.plotting import MAX_TRIAL_ROWS, forest_plot
from ketamine_meta.figures.safety_plots import adverse_event_plot, dissociation_vs_effect_plot
from ketamine_meta.io.tables import to_csv_text
from ketamine_meta.stats.meta_analysis import OVERALL_LABEL, pool_by_subgroup


@pytest.fixture(scope="module")
def synthetic_tables(tmp_path_factory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("synthetic") / "package"
    write_synthetic_package(REPO / "data" / "raw", out, 2 * MAX_TRIAL_ROWS, seed=5)
    return validated_package(out)


def _effects(tables, rules: ComparisonRules | None = None) -> pd.DataFrame:
    return build_effect_sizes(
        tables["studies"], tables["arms"], tables["outcomes"], tables["contrasts"], rules
    )[0]


def _pooled(rows: pd.DataFrame) -> pd.DataFrame:
    return pool_by_subgroup(rows, "route", "smd_24h", method="REML", test="knha")[0]


def _texts(figure) -> str:
    return " ".join(t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text")))


def test_rules_that_find_no_comparison_give_an_empty_table(synthetic_tables):
    head_to_head = replace(
        ComparisonRules(), treatment_drugs=("racemic_ketamine",), control_drugs=("esketamine",)
    )
    effects = _effects(synthetic_tables, head_to_head)
    assert effects.empty
    assert list(effects.columns) == EFFECT_SIZE_COLUMNS


def test_a_forest_plot_of_more_trials_than_can_be_read_draws_the_pooled_rows(synthetic_tables):
    effects = _effects(synthetic_tables)
    rows = effects[
        (effects["outcome"] == "depression_score")
        & (effects["timepoint_h"] == 24)
        & (effects["control_type"] == "inert_placebo")
    ].drop_duplicates("comparison_id")
    assert len(rows) > MAX_TRIAL_ROWS
    figure = forest_plot(rows, _pooled(rows))
    # The height follows the lines drawn: headings, diamonds, heterogeneity, not 300 rows.
    assert figure.get_figheight() < 8
    assert f"{len(rows)} comparisons, more than {MAX_TRIAL_ROWS}" in _texts(figure)
    assert not any(label in _texts(figure) for label in rows["label"])
    small = forest_plot(rows.head(20), _pooled(rows.head(20)))
    assert rows["label"].iloc[0] in _texts(small)


def test_an_adverse_event_plot_of_many_trials_keeps_the_pooled_row():
    trials = pd.DataFrame(
        {
            "event": "dissociation",
            "study_id": [f"T{i}" for i in range(MAX_TRIAL_ROWS + 1)],
            "label": [f"Trial {i}" for i in range(MAX_TRIAL_ROWS + 1)],
            "yi": np.linspace(0, 1, MAX_TRIAL_ROWS + 1),
            "vi": 0.1,
        }
    )
    pooled = pd.DataFrame(
        [
            {
                "event": "dissociation",
                "study_id": OVERALL_LABEL,
                "label": "Pooled",
                "yi": 0.5,
                "vi": 0.01,
                "ci_low": 0.3,
                "ci_high": 0.7,
            }
        ]
    )
    figure = adverse_event_plot(pd.concat([trials, pooled], ignore_index=True), "dissociation")
    assert f"{MAX_TRIAL_ROWS + 1} trials, rows in the table" in _texts(figure)
    assert "Trial 0" not in _texts(figure) and "Pooled" in _texts(figure)


def test_a_scatter_of_many_trials_is_not_covered_by_labels():
    table = pd.DataFrame(
        {
            "label": [f"Trial {i}" for i in range(MAX_TRIAL_ROWS + 1)],
            "dissociation_share": np.linspace(0.1, 0.9, MAX_TRIAL_ROWS + 1),
            "yi": 0.5,
            "vi": 0.04,
        }
    )
    assert "Trial 3" not in _texts(dissociation_vs_effect_plot(table, "slope"))
    assert "Trial 3" in _texts(dissociation_vs_effect_plot(table.head(10), "slope"))


def test_risk_of_bias_figures_of_no_judgement_say_so():
    empty = pd.DataFrame(columns=["study_id", "domain", "judgement"])
    assert "0 trials with a judgement: nothing to draw." in _texts(traffic_light_plot(empty))
    assert "No trial is judged." in _texts(summary_plot(empty))


def test_entry_scripts_log_their_start_up_and_process_time(tmp_path):
    log = tmp_path / "rule.log"
    script = f"from ketamine_meta.io.logs import configure\nconfigure({str(log)!r})\n"
    subprocess.run([sys.executable, "-c", script], check=True)
    text = log.read_text()
    start_up = float(re.search(r"^INFO start-up ([0-9.]+) s$", text, re.M).group(1))
    process, peak = re.search(r"^INFO process ([0-9.]+) s, peak ([0-9]+) MB$", text, re.M).groups()
    assert 0 < start_up <= float(process) < 60
    assert 5 < int(peak) < 2048


def test_the_multiverse_does_not_depend_on_how_it_is_chunked():
    """Each chunk holds whole rule sets and pads each meta-analysis to a width set by its own
    k, so a specification's row is the same bytes in any chunking: a laptop's 2 jobs and a
    cluster's 7 gather to one file."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    settings, rules = config["multiverse"], ComparisonRules(**config["comparisons"])
    protocol = Protocol.from_config(
        {"windows": config["windows"], "timepoint_h": 24, "analysis_set": config["analysis_set"]}
    )
    tables = validated_package(REPO / "data" / "raw")

    def gathered(chunks: int) -> str:
        parts = [
            fit_specifications(
                tables,
                rules,
                protocol,
                settings,
                chunk_specifications(settings, chunk, chunks, rules),
                0.95,
            )
            for chunk in range(chunks)
        ]
        table = pd.concat([p for p in parts if len(p)], ignore_index=True)
        return to_csv_text(
            table.sort_values(["data_spec", "estimator", "test", "subgroup"], kind="stable")
        )

    assert gathered(2) == gathered(7)
