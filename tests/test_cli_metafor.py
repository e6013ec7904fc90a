"""The command line against R's metafor, as a metafor user would run it.

Each scenario of ``tests/reference/cli_reference.json`` (written by
``tests/reference/make_cli_references.R``, regenerated and compared by ``.ci/run``) holds a
data set of metafor's that no other test uses, the R call, and the ``ketamine-meta pool``
arguments that ask for the same fit: every tau^2 estimator (REML, ML, DL, PM, SJ, EB, HE, HS,
HSk) and the common-effect model (EE, FE) with the z and Knapp-Hartung tests, rma()'s
defaults, meta-regression with a numeric moderator that has missing values (omitted, as
na.action = na.omit) and with a factor, study weights (weights(res), ``--weights``), and
back-transformation (transf.ztor,
transf.ilogit, transf.ipft.hm, exp); and ``escalc`` for the measures MD, ROM, COR, ZCOR, PR,
PLN, PAS, IRR and PETO (zero cells among them), and every vtype metafor has for them (SMD,
MD, ROM, SMCC, SMCR, RD, PR, PLN, PLO, COR), its input's own columns kept. Agreement to
1e-6.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.cli.commands import MEASURE_VTYPES, main

pytestmark = pytest.mark.metafor

SCENARIOS = json.loads((REPO / "tests/reference/cli_reference.json").read_text())["scenarios"]
POOLED = [s for s in SCENARIOS if s["id"].startswith(("pool_", "transf_"))]
REGRESSIONS = [s for s in SCENARIOS if s["id"].startswith("mods_")]
ESCALC = [s for s in SCENARIOS if s["id"].startswith("escalc_")]
TOLERANCE = {"rel": 1e-6, "abs": 1e-9}


def _run(tmp_path, capsys, scenario) -> list[dict]:
    path = tmp_path / "data.csv"
    pd.DataFrame(scenario["input"]).to_csv(path, index=False)
    weights = tmp_path / "weights.csv"
    argv = ["pool", "--input", str(path), *scenario["cli_args"], "--weights", str(weights)]
    status = main([*argv, "--format", "json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    # weights(res): one row per study fitted, the file's own columns and the weight.
    written = pd.read_csv(weights)
    assert list(written.columns) == [*scenario["input"], "weight"]
    assert written["weight"].tolist() == pytest.approx(scenario["values"]["weights"], **TOLERANCE)
    return json.loads(captured.out)


def test_every_estimator_transformation_and_measure_is_covered():
    methods = {s["cli_args"][s["cli_args"].index("--method") + 1] for s in POOLED[:-5]}
    assert methods == {"REML", "ML", "DL", "PM", "SJ", "EB", "HE", "HS", "HSk", "EE", "FE"}
    transforms = {
        s["cli_args"][s["cli_args"].index("--transf") + 1]
        for s in SCENARIOS
        if "--transf" in s["cli_args"]
    }
    assert transforms == {"ztor", "ilogit", "ipft.hm", "exp"}
    measures = {s["cli_args"][1] for s in ESCALC}
    assert measures == {
        *("SMD", "MD", "ROM", "SMCC", "SMCR", "COR", "ZCOR", "PR", "PLN", "PLO", "PAS"),
        *("IRR", "RD", "PETO"),
    }
    covered = {
        (s["cli_args"][1], s["cli_args"][s["cli_args"].index("--vtype") + 1])
        if "--vtype" in s["cli_args"]
        else (s["cli_args"][1], "LS")
        for s in ESCALC
    }
    # Every vtype metafor has for a measure, LS as the default; MD's UB is metafor's LS, and
    # RD and PLO at LS are checked against metafor in test_cli.py (metafor_reference.json).
    expected = {(m, v) for m, options in MEASURE_VTYPES.items() for v in options}
    assert expected - covered == {("MD", "UB"), ("RD", "LS"), ("PLO", "LS")}


@pytest.mark.parametrize("scenario", POOLED, ids=[s["id"] for s in POOLED])
def test_pool_is_rma(tmp_path, capsys, scenario):
    (row,) = _run(tmp_path, capsys, scenario)
    expected = dict(scenario["values"])  # popped below: the shared scenario stays whole
    expected.pop("weights")
    assert row["k"] == expected.pop("k")
    for field, value in expected.items():
        assert row[field] == pytest.approx(value, **TOLERANCE), (scenario["r_call"], field)
    if "--transf" in scenario["cli_args"]:
        assert (
            "se" not in row
            and row["transf"] == scenario["cli_args"][1 + scenario["cli_args"].index("--transf")]
        )
    common = {"EE": "equal-effects", "FE": "fixed-effects"}
    assert row["model"] == common.get(row["method"], "random-effects")


@pytest.mark.parametrize("scenario", REGRESSIONS, ids=[s["id"] for s in REGRESSIONS])
def test_pool_mods_is_rma_with_mods(tmp_path, capsys, scenario):
    rows = _run(tmp_path, capsys, scenario)
    expected = dict(scenario["values"])  # popped below: the shared scenario stays whole
    expected.pop("weights")
    terms = ["intercept" if t == "intrcpt" else t for t in expected.pop("term")]
    assert [r["term"] for r in rows] == terms
    for field in ("estimate", "se", "statistic", "pval", "ci_low", "ci_high"):
        got = [r[field] for r in rows]
        assert got == pytest.approx(expected.pop(field), **TOLERANCE), (scenario["r_call"], field)
    for field, value in expected.items():
        assert rows[0][field] == pytest.approx(value, **TOLERANCE), (scenario["r_call"], field)


def test_rows_a_moderator_lacks_are_named_and_left_out(tmp_path, capsys):
    """dat.bangertdrowns2004 has no length for two studies: metafor's na.omit drops them."""
    (scenario,) = [s for s in REGRESSIONS if s["id"].endswith("length_REML_z")]
    _run(tmp_path, capsys, scenario)
    path = tmp_path / "data.csv"
    main(["pool", "--input", str(path), "--mods", "length"])
    err = capsys.readouterr().err
    rows = [i + 1 for i, v in enumerate(scenario["input"]["length"]) if v is None]
    assert "2 row(s) with a missing value in yi, vi, length left out" in err
    assert f"row(s) {rows[0]}, {rows[1]}" in err


@pytest.mark.parametrize("scenario", ESCALC, ids=[s["id"] for s in ESCALC])
def test_escalc_is_metafor_s_and_keeps_the_file_s_columns(tmp_path, capsys, scenario):
    path = tmp_path / "data.csv"
    given = pd.DataFrame(scenario["input"])
    given.to_csv(path, index=False)
    status = main(["escalc", "--input", str(path), *scenario["cli_args"]])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    out = pd.read_csv(io.StringIO(captured.out))
    assert list(out.columns) == [*given.columns, "yi", "vi"]
    pd.testing.assert_frame_equal(out[given.columns], pd.read_csv(path))
    for field in ("yi", "vi"):
        assert out[field].tolist() == pytest.approx(scenario["values"][field], **TOLERANCE)
