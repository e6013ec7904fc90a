"""The command line's parser and its ``pool`` command (``cli.commands``), against the library.

The commands' outputs against metafor are in ``test_cli.py``, their bounds and refusals of
hostile input in ``test_cli_bounds.py``. Here: the parser's defaults (metafor's), a pool of
a small file equal to :func:`~ketamine_meta.stats.meta_analysis.random_effects` on the same
numbers, where its output goes, and the form of every usage error: one line on standard
error, exit status 2.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ketamine_meta.cli.commands import build_parser, main
from ketamine_meta.stats.meta_analysis import random_effects, subgroup_difference_test
from ketamine_meta.stats.model import TESTS
from ketamine_meta.stats.tau2 import ESTIMATORS

YI = [0.42, 0.15, 0.61, 0.05, 0.38]
VI = [0.031, 0.052, 0.044, 0.060, 0.025]
ROUTE = ["IV", "IN", "IV", "IN", "IV"]
#: The columns of a pooled row that are the model's numbers.
FIT_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "q"]


@pytest.fixture
def studies(tmp_path) -> str:
    path = tmp_path / "studies.csv"
    pd.DataFrame({"yi": YI, "vi": VI, "route": ROUTE}).to_csv(path, index=False)
    return str(path)


def pooled(capsys, argv: list[str]) -> list[dict]:
    """The rows ``pool`` prints as JSON."""
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def refused(capsys, argv: list[str]) -> str:
    """The one line of standard error of a refused command (argparse's refusals exit)."""
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"ketamine-meta {argv[0]}: error: ")
    return lines[0]


def test_pool_defaults_are_metafor_s():
    args = build_parser().parse_args(["pool", "--input", "x.csv"])
    # rma(yi, vi): method = "REML", test = "z", level = 95, na.action = na.omit.
    assert (args.yi, args.vi, args.method, args.test, args.level) == (
        "yi",
        "vi",
        "REML",
        "z",
        0.95,
    )
    assert (args.by, args.analysis, args.format, args.output) == (None, "pooled", "csv", None)
    assert (args.mods, args.na_action, args.transf, args.ni) == (None, "omit", None, None)


def test_escalc_nma_and_the_package_commands_defaults():
    parser = build_parser()
    escalc = parser.parse_args(["escalc", "--input", "x.csv", "--measure", "OR"])
    assert (escalc.add, escalc.to) == (0.5, "only0")
    nma = parser.parse_args(["nma", "--input", "x.csv", "--reference", "placebo"])
    assert (nma.method, nma.level, nma.format) == ("REML", 0.95, "csv")
    synth = parser.parse_args(["synth", "--trials", "3", "--out", "d"])
    # No --template: data/raw here, else the checkout's (found when the command runs).
    assert (synth.trials, synth.seed, synth.template) == (3, 1, None)
    assert parser.parse_args(["cite"]).package == "data/raw"
    assert parser.parse_args(["explain", "smd_24h"]).root is None  # found upwards from here


@pytest.mark.parametrize(("option", "allowed"), [("--method", ESTIMATORS), ("--test", TESTS)])
def test_pool_takes_every_estimator_and_test_of_the_engine(option, allowed):
    parser = build_parser()
    for value in allowed:
        args = parser.parse_args(["pool", "--input", "x.csv", option, value])
        assert getattr(args, option.removeprefix("--")) == value


def test_every_command_is_listed_in_the_help(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    for command in (
        "validate",
        "escalc",
        "pool",
        "nma",
        "synth",
        "explain",
        "reconstruct-km",
        "cite",
        "new-trial",
        "import-registry",
    ):
        assert command in shown


@pytest.mark.parametrize(("method", "test", "level"), [("REML", "knha", 0.95), ("DL", "z", 0.9)])
def test_pool_is_the_random_effects_model_of_the_file(capsys, studies, method, test, level):
    rows = pooled(
        capsys,
        ["pool", "--input", studies, "--method", method, "--test", test, "--level", str(level)],
    )
    (row,) = rows
    fit = random_effects(YI, VI, method, test, level)
    assert (row["subgroup"], row["analysis"], row["k"]) == ("overall", "pooled", 5)
    assert (row["method"], row["test"]) == (method, test)
    for column in FIT_COLUMNS:
        assert row[column] == pytest.approx(getattr(fit, column), rel=1e-12, abs=1e-15), column


def test_pool_by_subgroup_fits_each_subgroup_and_tests_their_difference(capsys, studies):
    rows = {r["subgroup"]: r for r in pooled(capsys, ["pool", "--input", studies, "--by", "route"])}
    route = np.array(ROUTE)
    fits = {
        name: random_effects(np.array(YI)[route == name], np.array(VI)[route == name])
        for name in ("IN", "IV")
    }
    for name, fit in fits.items():
        assert rows[name]["k"] == fit.k
        assert rows[name]["estimate"] == pytest.approx(fit.estimate, rel=1e-12)
    assert rows["overall"]["estimate"] == pytest.approx(random_effects(YI, VI).estimate)
    between = subgroup_difference_test(fits)
    assert rows["test for subgroup differences"]["q"] == pytest.approx(between.q, rel=1e-12)


def test_a_study_of_infinite_variance_is_left_out_and_named(tmp_path, capsys):
    path = tmp_path / "with_inf.csv"
    path.write_text("yi,vi\n0.42,0.031\n9.9,inf\n0.15,0.052\n0.61,0.044\n")
    (row,) = pooled(capsys, ["pool", "--input", str(path)])
    assert row["k"] == 3
    assert row["estimate"] == pytest.approx(random_effects(YI[:3], VI[:3]).estimate, rel=1e-12)
    main(["pool", "--input", str(path)])
    err = capsys.readouterr().err
    assert "row 2, column 'vi': infinite variance, the study gets no weight" in err


def test_pool_writes_the_same_table_to_a_file_and_leaves_no_partial_file(tmp_path, capsys, studies):
    assert main(["pool", "--input", studies]) == 0
    printed = capsys.readouterr().out
    target = tmp_path / "out" / "pooled.csv"
    target.parent.mkdir()
    assert main(["pool", "--input", studies, "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_text(encoding="utf-8") == printed
    assert sorted(p.name for p in target.parent.iterdir()) == ["pooled.csv"]


def test_usage_errors_are_one_line_naming_what_is_wrong(tmp_path, capsys, studies):
    assert refused(capsys, ["pool", "--input", str(tmp_path / "none.csv")]).endswith(
        "none.csv: no such file"
    )
    assert "invalid choice: 'Wald'" in refused(
        capsys, ["pool", "--input", studies, "--test", "Wald"]
    )
    assert "--level 1.5: 1.5 is not a confidence level" in refused(
        capsys, ["pool", "--input", studies, "--level", "1.5"]
    )
    assert "--level nan" in refused(capsys, ["pool", "--input", studies, "--level", "nan"])
    assert "missing column(s) effect" in refused(
        capsys, ["pool", "--input", studies, "--yi", "effect"]
    )
    assert refused(capsys, ["pool", "--input", studies, "--output", str(tmp_path)]).endswith(
        "is a directory; give a file name"
    )
    missing = tmp_path / "no" / "out.csv"
    assert f"directory {missing.parent} does not exist" in refused(
        capsys, ["pool", "--input", studies, "--output", str(missing)]
    )


def test_pool_bayes_is_the_bayesian_fit_of_the_file(capsys, studies):
    """``pool --bayes`` prints bayesmeta's summaries of the engine's fit, per subgroup too."""
    from ketamine_meta.stats.bayes import BayesSpec, bayesian_meta_analysis
    from ketamine_meta.stats.bayes_priors import HalfCauchyPrior, NormalMuPrior

    argv = ["pool", "--input", studies, "--bayes", "--tau-prior", "halfcauchy:0.5"]
    argv += ["--mu-prior", "normal:0:2", "--prob-above", "0.2", "--prob-above", "0"]
    argv += ["--by", "route"]
    rows = {r["subgroup"]: r for r in pooled(capsys, argv)}
    spec = BayesSpec(HalfCauchyPrior(0.5), NormalMuPrior(0, 2))
    expected = bayesian_meta_analysis(YI, VI, spec).summary([0.2, 0.0])
    columns = ["mu_median", "mu_mean", "mu_sd", "ci_low", "ci_high", "tau_median", "pi_low"]
    columns += ["pi_high", "log_marginal_likelihood", "prob_above_0.2", "prob_above_0"]
    for column in columns:
        assert rows["overall"][column] == pytest.approx(expected[column], abs=1e-13), column
    in_route = np.array(ROUTE) == "IN"
    subgroup = bayesian_meta_analysis(np.array(YI)[in_route], np.array(VI)[in_route], spec)
    assert rows["IN"]["mu_median"] == pytest.approx(subgroup.coefficient().quantile(0.5), abs=1e-13)
    assert rows["IN"]["k"] == 2
    assert rows["overall"]["tau_prior"] == "half-Cauchy(scale 0.5) on tau"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tau-prior", "halfnormal:-1"], "the half-normal prior's scale must be a positive"),
        (["--tau-prior", "gamma:1"], "'gamma:1' is not a tau prior"),
        (["--mu-prior", "cauchy:0:1"], "'cauchy:0:1' is not a mu prior"),
        (
            ["--tau-prior", "uniform", "--by", "route"],
            "subgroup 'IN': the posterior of tau is improper",
        ),
    ],
)
def test_pool_bayes_refuses_unusable_priors_in_one_line(capsys, studies, options, message):
    line = refused(capsys, ["pool", "--input", studies, "--bayes", *options])
    assert message in line


def test_study_weights_are_the_overall_model_s_and_refused_for_a_bayesian_fit(
    tmp_path, capsys, studies
):
    """--weights writes weights(res) of the overall model, also when --by splits the table."""
    target = tmp_path / "weights.csv"
    pooled(capsys, ["pool", "--input", studies, "--by", "route", "--weights", str(target)])
    written = pd.read_csv(target)
    tau2 = random_effects(YI, VI, method="REML", test="z").tau2
    expected = 100 * (1 / (np.array(VI) + tau2)) / np.sum(1 / (np.array(VI) + tau2))
    assert written["weight"].to_numpy() == pytest.approx(expected, rel=1e-10)  # 12 digits
    assert list(written.columns) == ["yi", "vi", "route", "weight"]
    line = refused(capsys, ["pool", "--input", studies, "--bayes", "--weights", str(target)])
    assert line.endswith("--weights: a Bayesian fit has no fixed study weights")
