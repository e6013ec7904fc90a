"""``ketamine-meta forest`` and ``funnel`` (:mod:`ketamine_meta.cli.plots`): the pipeline's
figures from a user's CSV, with its honesty rules, the same bytes for the same input."""

from __future__ import annotations

import pandas as pd
import pytest

from ketamine_meta.cli.commands import main
from ketamine_meta.cli.plots import FORMATS

STUDIES = pd.DataFrame(
    {
        "study": ["Ayers", "Baker", "Becker", "Brodney", "Burton", "Davis"],
        "yi": [-0.75, -0.04, 0.03, 0.06, 0.06, 0.77],
        "vi": [0.128, 0.019, 0.0098, 0.0071, 0.040, 0.107],
        "n": [34, 209, 462, 542, 99, 40],
        "grade": ["low", "high", "high", "low", "high", "high"],
    }
)


@pytest.fixture()
def studies(tmp_path):
    path = tmp_path / "studies.csv"
    STUDIES.to_csv(path, index=False)
    return str(path)


def _draw(capsys, argv) -> str:
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out


def test_a_forest_plot_per_subgroup_in_svg_and_png_the_same_bytes_twice(tmp_path, capsys, studies):
    out = tmp_path / "forest"
    argv = ["forest", "--input", studies, "--label", "study", "--by", "grade", "--n1", "n"]
    printed = _draw(capsys, [*argv, "--output", str(out)])
    assert printed.split() == [f"{out}.{fmt}" for fmt in FORMATS] == [f"{out}.svg", f"{out}.png"]
    first = (out.with_suffix(".svg").read_bytes(), out.with_suffix(".png").read_bytes())
    _draw(capsys, [*argv, "--output", str(out) + ".svg"])
    assert (out.with_suffix(".svg").read_bytes(), out.with_suffix(".png").read_bytes()) == first
    svg = first[0].decode()
    for text in ("Ayers", "high", "low", "Subgroup estimate", "Test for subgroup differences"):
        assert text in svg
    assert "Random-effects model: τ² by REML, Wald z confidence intervals." in svg


def test_a_common_effect_forest_plot_names_its_model_and_draws_no_prediction_interval(
    tmp_path, capsys, studies
):
    out = tmp_path / "forest"
    _draw(capsys, ["forest", "--input", studies, "--method", "EE", "--output", str(out)])
    svg = out.with_suffix(".svg").read_text()
    assert "Common-effect model: inverse-variance weights" in svg
    assert "Prediction interval" not in svg and "τ² =" not in svg
    assert "Subgroup estimate" not in svg and "Study 6" in svg


def test_a_funnel_plot_names_the_statistic_of_its_test(tmp_path, capsys, studies):
    out = tmp_path / "funnel"
    _draw(capsys, ["funnel", "--input", studies, "--output", str(out)])
    assert "Egger's test: z = " in out.with_suffix(".svg").read_text()
    _draw(capsys, ["funnel", "--input", studies, "--test", "knha", "--output", str(out)])
    assert "Egger's test: t = " in out.with_suffix(".svg").read_text()


def test_too_few_studies_or_no_folder_are_refused_in_one_line(tmp_path, capsys, studies):
    few = tmp_path / "few.csv"
    STUDIES.head(2).to_csv(few, index=False)
    assert main(["funnel", "--input", str(few), "--output", str(tmp_path / "f")]) == 2
    assert "2 studies; Egger's test needs at least 3" in capsys.readouterr().err
    assert main(["forest", "--input", studies, "--output", str(tmp_path / "no" / "f")]) == 2
    assert "no folder" in capsys.readouterr().err
