"""Every output is registered once, and everything that lists outputs agrees with the registry.

The slices' rule files register their outputs (``ketamine_meta.io.outputs``); the workflow
writes the registry to ``results/outputs.json``. Here the committed results are held to it:
the workflow's final targets (what ``results/manifest.tsv`` lists, written from
``get_final_outputs``), the report's table pages and captions, ``ketamine-meta explain`` and the
README's table of outputs must name exactly the registered files. The registry class itself is
tested on a small registration.
"""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys

import pytest

from conftest import REPO
from ketamine_meta.analyses.explain import explainable
from ketamine_meta.io.outputs import (
    REGISTRY_FILE,
    Figure,
    OutputRegistry,
    Table,
    Traced,
    read_registry,
)

REGISTRY = read_registry(REPO / REGISTRY_FILE)
TABLES = {t["stem"]: t for piece in REGISTRY["slices"].values() for t in piece["tables"].values()}
FIGURES = [f for piece in REGISTRY["slices"].values() for f in piece["figures"].values()]


def _registry() -> OutputRegistry:
    registry = OutputRegistry(["svg", "png"])
    registry.register(
        "efficacy",
        "Efficacy",
        tables={
            "rows": Table("smd_48h_by_study", "smd_by_study", "rows"),
            "pooled": Table("pooled_smd_48h", "pooled", "pooled", "Sensitivity"),
        },
        figures={"forest": Figure("forest_smd_48h", "forest", "forest")},
        traced={"smd_48h": Traced("rows", ("pooled",))},
    )
    return registry


def test_a_registration_gives_paths_pages_and_figure_formats():
    piece = _registry().slices["efficacy"]
    assert piece.table_paths() == {
        "rows": "results/tables/smd_48h_by_study.csv",
        "pooled": "results/tables/pooled_smd_48h.csv",
    }
    assert piece.figure_paths() == {
        "forest_svg": "results/figures/forest_smd_48h.svg",
        "forest_png": "results/figures/forest_smd_48h.png",
    }
    assert piece.paths() == [
        "results/tables/smd_48h_by_study.csv",
        "results/tables/pooled_smd_48h.csv",
        "results/report/tables/smd_48h_by_study.html",
        "results/report/tables/pooled_smd_48h.html",
        "results/figures/forest_smd_48h.svg",
        "results/figures/forest_smd_48h.png",
    ]
    # A table without a category of its own takes its slice's.
    assert [t.category for t in _registry().tables().values()] == ["Efficacy", "Sensitivity"]


def test_a_path_or_slice_registered_twice_is_refused():
    registry = _registry()
    with pytest.raises(ValueError, match="already registered by another slice"):
        registry.register("other", "Other", tables={"x": Table("pooled_smd_48h", "c", "a")})
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("efficacy", "Efficacy")
    with pytest.raises(ValueError, match="names no table 'missing'"):
        registry.register("bad", "Bad", traced={"t": Traced("missing")})


def test_the_json_round_trip_gives_explain_its_analyses():
    registry = _registry()
    traced = explainable(__import__("json").loads(registry.to_json())["traced"])
    assert set(traced) == {"smd_48h"}
    assert traced["smd_48h"].rows == "results/tables/smd_48h_by_study.csv"
    assert traced["smd_48h"].pooled == ("results/tables/pooled_smd_48h.csv",)


def test_the_final_targets_are_the_registered_files():
    """results/manifest.tsv is written from get_final_outputs(): it lists every registered file
    (the executed notebook aside, which is not committed) and nothing else but the captions."""
    with open(REPO / "results/manifest.tsv", encoding="utf-8") as handle:
        listed = {row["path"] for row in csv.DictReader(handle, delimiter="\t")}
    registered = {
        path
        for piece in REGISTRY["slices"].values()
        for path in [
            *(f"results/tables/{t['stem']}.csv" for t in piece["tables"].values()),
            *(f"results/report/tables/{t['stem']}.html" for t in piece["tables"].values()),
            *(
                f"results/figures/{f['stem']}.{fmt}"
                for f in piece["figures"].values()
                for fmt in REGISTRY["formats"]
            ),
            *(file["path"] for file in piece["files"].values()),
        ]
        if not path.startswith("results/notebooks/")
    }
    captions = {p for p in listed if p.startswith("results/report/captions/")}
    assert listed - captions == registered | {"results/report/landing.rst", REGISTRY_FILE}


def test_every_written_table_and_figure_is_registered():
    written = {p.stem for p in (REPO / "results/tables").glob("*.csv")}
    assert written == set(TABLES)
    drawn = {p.stem for p in (REPO / "results/figures").glob("*.svg")}
    assert drawn == {f["stem"] for f in FIGURES}


def test_the_report_has_a_page_and_caption_per_registered_table():
    pages = {p.stem for p in (REPO / "results/report/tables").glob("*.html")}
    captions = {p.stem for p in (REPO / "results/report/captions").glob("*.rst")}
    assert pages == captions == set(TABLES)
    for table in TABLES.values():
        assert (REPO / "workflow/report" / f"{table['caption']}.rst").is_file(), table["stem"]
    for figure in FIGURES:
        assert (REPO / "workflow/report" / f"{figure['caption']}.rst").is_file(), figure["stem"]


@pytest.mark.parametrize("name", sorted(REGISTRY["traced"]))
def test_explain_traces_every_registered_analysis(name):
    result = subprocess.run(
        [sys.executable, "-m", "ketamine_meta.cli.commands", "explain", name, "--root", str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert " row(s) from " in result.stdout


def test_explain_names_the_registered_analyses_when_given_another():
    result = subprocess.run(
        [sys.executable, "-m", "ketamine_meta.cli.commands", "explain", "smd_99h"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert "smd_99h: not an analysis" in result.stderr
    assert all(name in result.stderr for name in REGISTRY["traced"])


def test_the_readme_table_of_outputs_is_the_registry():
    spec = importlib.util.spec_from_file_location("update_readme", REPO / "tools/update_readme.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert tool.outputs_block(REGISTRY) in readme
    for stem in TABLES:
        assert f"`results/tables/{stem}.csv`" in readme
