"""Every printed model name comes from the fitted result and the configuration.

The pipeline is run with DerSimonian-Laird and Wald intervals in a temporary copy: the forest
plots' texts (SVG keeps text as text), every report caption and the report's landing page
must name DL and Wald, never the default REML and Hartung-Knapp."""

from __future__ import annotations

import re
from types import SimpleNamespace

import jinja2
import pytest
import yaml

from conftest import copy_repo, run_snakemake

pytestmark = pytest.mark.pipeline

FORESTS = ["forest_smd_24h_by_route", "forest_rr_response_24h_by_enantiomer"]


@pytest.fixture(scope="module")
def dl_z_repo(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("dlz") / "repo")
    config = repo / "config" / "config.yaml"
    text = (
        config.read_text().replace("method: REML", "method: DL").replace("test: adhoc", "test: z")
    )
    # The time-course model takes likelihood estimators only: ML there.
    text = text.replace("(REML or ML).\n  method: DL", "(REML or ML).\n  method: ML")
    assert "method: ML" in text
    config.write_text(text)
    targets = [f"results/figures/{stem}.svg" for stem in FORESTS] + ["results/report/landing.rst"]
    result = run_snakemake(repo, "--forceall", *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    return repo


@pytest.mark.parametrize("stem", FORESTS)
def test_forest_plots_name_the_configured_model(dl_z_repo, stem):
    svg = (dl_z_repo / "results" / "figures" / f"{stem}.svg").read_text()
    texts = " ".join(re.findall(r">([^<>]+)</text>", svg))
    assert "τ² by DL, Wald z confidence intervals" in texts
    assert "REML" not in texts and "Hartung-Knapp" not in texts


def test_report_captions_name_the_configured_model(dl_z_repo):
    config = yaml.safe_load((dl_z_repo / "config" / "config.yaml").read_text())
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for path in sorted((dl_z_repo / "workflow" / "report").glob("*.rst")):
        wildcards = SimpleNamespace(
            moderator="route", event="blood_pressure", grouping="route", outcome="smd"
        )
        params = SimpleNamespace(caption="")  # table_page.rst shows the table's own caption
        snakemake = SimpleNamespace(config=config, wildcards=wildcards, params=params)
        caption = env.from_string(path.read_text()).render(snakemake=snakemake)
        if path.name == "multiverse_curve.rst":
            # The multiverse fits every configured estimator, and its caption lists them.
            assert ", ".join(config["multiverse"]["estimators"]) in caption
            continue
        assert "REML" not in caption, path.name
        assert "Hartung-Knapp" not in caption.replace("ad hoc Hartung-Knapp", ""), path.name


def test_report_landing_page_names_the_fitted_model(dl_z_repo):
    landing = (dl_z_repo / "results" / "report" / "landing.rst").read_text()
    assert "Random-effects models (τ² by DL, Wald z confidence intervals)" in landing
    assert "REML" not in landing.split("Headline results")[1]
