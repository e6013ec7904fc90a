"""The synthetic evidence base (`ketamine-meta synth`): valid packages, known truth, and
pooled estimates that recover it at the nominal rate."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from ketamine_meta.analyses.comparisons import ComparisonRules, build_effect_sizes
from ketamine_meta.analyses.protocol import Protocol, select_comparisons
from ketamine_meta.cli.commands import main
from ketamine_meta.evidence.datapackage import CANONICAL_SCHEMA, validate_package
from ketamine_meta.evidence.package_files import read_canonical_schema, read_package_dir
from ketamine_meta.evidence.package_source import PackageSourceError
from ketamine_meta.evidence.synthetic import (
    FORMULATIONS,
    MAX_TRIALS,
    synthetic_study_id,
    write_synthetic_package,
)
from ketamine_meta.stats.meta_analysis import random_effects

TEMPLATE = REPO / "data" / "raw"
CANONICAL = read_canonical_schema(REPO / CANONICAL_SCHEMA)


def test_study_ids_are_unique_and_follow_the_pattern():
    ids = [synthetic_study_id(i) for i in (0, 1, 25, 26, 675, 456_975)]
    assert ids[:3] == ["Synthaaaa2026", "Synthaaab2026", "Synthaaaz2026"]
    assert len(set(ids)) == len(ids)


def test_cli_writes_a_valid_package_and_its_truth(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert main(["synth", "--trials", "40", "--seed", "5", "--out", str(out)]) == 0
    descriptor, texts = read_package_dir(out)
    tables = validate_package(descriptor, texts, CANONICAL)
    assert len(tables["studies"]) == 40
    assert set(tables["arms"]["drug"]) >= {"racemic_ketamine", "esketamine", "arketamine"}
    truth = json.loads((out / "truth.json").read_text())
    assert sum(f["trials"] for f in truth["formulations"]) == 40
    assert [f["true_g_24h"] for f in truth["formulations"]] == [f[5] for f in FORMULATIONS]


def test_cli_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    assert main(["synth", "--trials", "5", "--out", str(tmp_path / "taken")]) == 2
    assert "not an empty directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("trials", "seed", "message"),
    [
        (MAX_TRIALS + 1, 1, f"trials must lie between 1 and {MAX_TRIALS}, got {MAX_TRIALS + 1}"),
        (0, 1, f"trials must lie between 1 and {MAX_TRIALS}, got 0"),
        (3, -1, "a seed must not be negative, got -1"),
    ],
)
def test_trials_and_seed_out_of_bounds_are_refused_before_writing(tmp_path, trials, seed, message):
    with pytest.raises(ValueError, match=message):
        write_synthetic_package(TEMPLATE, tmp_path / "out", trials, seed)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trials", "1000000000"], f"--trials 1000000000: at most {MAX_TRIALS} trials"),
        (["--trials", "3", "--seed", "-1"], "--seed -1: a seed must not be negative"),
        (["--trials", "\u0663"], "argument --trials: '\u0663': not a number (ASCII digits)"),
        (["--trials", "1_000"], "argument --trials: '1_000': not a number (ASCII digits)"),
    ],
)
def test_cli_refuses_bad_trials_and_seeds_in_one_line(tmp_path, capsys, argv, message):
    try:
        status = main(["synth", *argv, "--out", str(tmp_path / "out")])
    except SystemExit as exc:  # argparse refusing the option's text
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def _template_with(tmp_path, edit) -> str:
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template)
    edit(template)
    return str(template)


def _drop_resource(name: str):
    def edit(template):
        path = template / "datapackage.json"
        descriptor = json.loads(path.read_text())
        descriptor["resources"] = [r for r in descriptor["resources"] if r["name"] != name]
        path.write_text(json.dumps(descriptor))

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: (t / "datapackage.json").write_text('{"resources": ['),
            "datapackage.json: not valid JSON (line 1, column 16",
        ),
        (lambda t: (t / "datapackage.json").write_text('{"resources": []}'), "no 'resources'"),
        (_drop_resource("relapse"), "no resource relapse (needed by synth)"),
        (lambda t: (t / "claims.csv").unlink(), "claims.csv: no such file"),
        (
            lambda t: (t / "datapackage.json").write_text(
                '{"resources": [{"name": "studies", "path": "studies.csv"}]}'
            ),
            "resources[0] needs a 'name' and 'schema.fields' with named fields",
        ),
    ],
    ids=["malformed JSON", "no resources", "a needed table unlisted", "a copied table absent",
         "no schema"],
)  # fmt: skip
def test_an_unusable_template_is_refused_and_nothing_is_written(tmp_path, capsys, edit, message):
    template = _template_with(tmp_path, edit)
    with pytest.raises(PackageSourceError, match=re.escape(message)):
        write_synthetic_package(Path(template), tmp_path / "out", 3, 1)
    assert not (tmp_path / "out").exists()
    out = str(tmp_path / "cli")
    assert main(["synth", "--trials", "3", "--out", out, "--template", template]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "cli").exists()


def test_same_seed_same_package(tmp_path):
    write_synthetic_package(TEMPLATE, tmp_path / "a", 25, 9)
    write_synthetic_package(TEMPLATE, tmp_path / "b", 25, 9)
    for name in ("studies.csv", "arms.csv", "outcomes.csv", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_pooled_estimates_cover_the_truth_at_the_nominal_rate(tmp_path):
    """Per formulation, the 24 h random-effects CI (REML, Hartung-Knapp, 95 %) should cover
    the simulated mean g in about 95 % of cases. Over 12 seeds x 8 formulations (about 96
    intervals, binomial SD about 2.2 %), coverage must be at least 88 %."""
    protocol = Protocol()
    covered = []
    for seed in range(1, 13):
        out = tmp_path / f"s{seed}"
        write_synthetic_package(TEMPLATE, out, 80, seed)
        descriptor, texts = read_package_dir(out)
        tables = validate_package(descriptor, texts, CANONICAL)
        effects, _ = build_effect_sizes(
            tables["studies"],
            tables["arms"],
            tables["outcomes"],
            tables["contrasts"],
            ComparisonRules(),
        )
        rows = select_comparisons(
            effects, "depression_score", "SMD", protocol.primary_window, protocol.analysis_set
        )
        for drug, route, _, _, control, true_g in FORMULATIONS:
            group = rows[
                (rows["drug_treat"] == drug)
                & (rows["route"] == route)
                & (rows["drug_ctrl"] == control)
            ]
            if group["study_id"].nunique() < 2:
                continue
            fit = random_effects(group["yi"], group["vi"], method="REML", test="knha")
            covered.append(fit.ci_low <= true_g <= fit.ci_high)
    assert len(covered) >= 80
    assert np.mean(covered) >= 0.88, np.mean(covered)


def test_a_synthetic_package_says_what_it_is_and_cites_only_what_it_copied(tmp_path):
    """Its own README (not the real package's "every number was read from a public
    document"), and sources.csv without the trials' sources: none of its trials exists."""
    out = tmp_path / "synthetic"
    write_synthetic_package(TEMPLATE, out, 6, 3)
    readme = (out / "README.md").read_text()
    assert readme.startswith("# Synthetic evidence base: 6 simulated trials (seed 3)")
    assert "This is not evidence." in readme and "read from a public document" not in readme
    assert not (out / "CHANGELOG.md").exists()
    sources = pd.read_csv(out / "sources.csv")
    cited = set()
    for name in ("bioavailability", "published_estimates", "durability_cohorts"):
        cited |= set(pd.read_csv(TEMPLATE / f"{name}.csv")["source_id"].dropna())
    assert set(sources["source_id"]) == cited | {"synthetic_simulation"}
    real_trial_sources = set(pd.read_csv(TEMPLATE / "arms.csv")["source_id"].dropna())
    assert not (real_trial_sources - cited) & set(sources["source_id"])


def test_synth_finds_its_template_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["synth", "--trials", "3", "--out", str(tmp_path / "pkg")]) == 0
    assert (tmp_path / "pkg" / "datapackage.json").is_file()
