"""The ketamine-meta command line on CSV files, including its error messages."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.cli import main


def write(tmp_path, name, frame):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_pool_by_subgroup_matches_the_library(tmp_path, capsys, reference):
    ref = reference["subgroup_bcg_alloc_REML_knha"]
    frame = pd.DataFrame(
        {"y": ref["input"]["yi"], "v": ref["input"]["vi"], "alloc": ref["input"]["groups"]}
    )
    path = write(tmp_path, "bcg.csv", frame)
    assert (
        main(
            ["pool", "--input", path, "--yi", "y", "--vi", "v", "--by", "alloc", "--format", "json"]
        )
        == 0
    )
    rows = {r["subgroup"]: r for r in json.loads(capsys.readouterr().out)}
    for name, expected in ref["values"]["subgroups"].items():
        assert rows[name]["estimate"] == pytest.approx(expected["estimate"], rel=1e-6)
        assert rows[name]["ci_low"] == pytest.approx(expected["ci_low"], rel=1e-6)
    assert rows["test for subgroup differences"]["q"] == pytest.approx(
        ref["values"]["q_between"], rel=1e-6
    )


def test_pool_overall_only(tmp_path, capsys, reference):
    ref = reference["rma_bcg_DL_z"]
    path = write(
        tmp_path, "d.csv", pd.DataFrame({"yi": ref["input"]["yi"], "vi": ref["input"]["vi"]})
    )
    assert main(["pool", "--input", path, "--method", "DL", "--test", "z"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert list(out["subgroup"]) == ["overall"]
    assert out.loc[0, "tau2"] == pytest.approx(ref["values"]["tau2"], rel=1e-6)


def test_escalc_smd(tmp_path, capsys, reference):
    ref = reference["escalc_smd_normand1999"]
    frame = pd.DataFrame({f"{k[:-1]}{k[-1]}i": v for k, v in ref["input"].items()})
    path = write(tmp_path, "n.csv", frame)
    assert main(["escalc", "--input", path, "--measure", "SMD"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert out["yi"].tolist() == pytest.approx(ref["values"]["yi"], rel=1e-6)


@pytest.mark.parametrize(
    ("frame", "args", "message"),
    [
        (pd.DataFrame({"yi": [0.1]}), [], "missing column(s) vi"),
        (
            pd.DataFrame({"yi": [0.1, 0.2], "vi": [0.01, -0.02]}),
            [],
            "row 2, column 'vi', value '-0.02': sampling variances must be positive",
        ),
        (
            pd.DataFrame({"yi": [0.1, "abc"], "vi": [0.01, 0.02]}),
            [],
            "row 2, column 'yi', value 'abc': not a number",
        ),
        (pd.DataFrame({"yi": [], "vi": []}), [], "at least one study"),
    ],
)
def test_pool_bad_input(tmp_path, capsys, frame, args, message):
    path = write(tmp_path, "bad.csv", frame)
    assert main(["pool", "--input", path, *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "bad.csv" in err


def test_validate_the_repository_package(capsys):
    assert main(["validate", str(REPO / "data/raw")]) == 0
    assert "outcomes:" in capsys.readouterr().out


def test_console_script_is_installed():
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("ketamine-meta")
    assert script.exists() or shutil.which("ketamine-meta")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "pool" in result.stdout
