"""The configuration guards: plain YAML only, one-line schema errors, what the schema misses.

Each refusal names the file, the line and the key (or tag), in one line: a non-core YAML tag
(``!!python/object`` used to be reported as "not valid YAML"), a key written twice (the later
value used to win silently), a value of the wrong type, and the timepoint windows' rules that
JSON Schema cannot state (an overlap changed a claim's verdict).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from conftest import REPO
from ketamine_meta.evidence.configuration import (
    SAFE_LOADER,
    ConfigError,
    check_config,
    check_yaml_file,
    load_yaml_file,
    schema_refusal,
)

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = REPO / "config" / "config.yaml"
#: Every YAML file the workflow reads through the guards: its configurations, the claims
#: mapping and the reproduction specifications (load_yaml_file), and the schemas.
WORKFLOW_YAML = sorted(
    [
        *(REPO / "config").rglob("*.yaml"),
        *(REPO / ".test" / "config").rglob("*.yaml"),
        *(REPO / "workflow" / "schemas").glob("*.yaml"),
    ]
)


def validate_config(config: dict, config_file: Path) -> None:
    """What workflow/Snakefile does: the schema's most relevant complaint, refused in one line."""
    error = best_match(Draft202012Validator(load_yaml_file(SCHEMA)).iter_errors(config))
    if error is not None:
        raise schema_refusal(error, config_file)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as refused:
        check_yaml_file(path)
    message = str(refused.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("path", WORKFLOW_YAML, ids=lambda p: str(p.relative_to(REPO)))
def test_the_workflows_own_yaml_is_plain(path):
    check_yaml_file(path)


@pytest.mark.parametrize("config_file", ["config/config.yaml", ".test/config/config.yaml"])
def test_the_repositorys_configurations_pass_every_check(config_file):
    config = load_yaml_file(REPO / config_file)
    validate_config(config, REPO / config_file)
    check_config(config, REPO / config_file)
    assert config["pooling"]["level"] == 0.95


@pytest.mark.parametrize(
    ("text", "line", "tag"),
    [
        ("a: 1\nb: !!python/object:os.system 24\n", 2, "!!python/object:os.system"),
        ("a:\n  - 1\n  - !!python/name:os.system ''\n", 3, "!!python/name:os.system"),
        ("a: !custom 1\n", 1, "!custom"),
        ("a: !!binary aGk=\n", 1, "!!binary"),
        ("a: !!set {x: null}\n", 1, "!!set"),
        ("a: 2021-05-01\n", 1, "!!timestamp"),
        ("x: &x {a: 1}\ny:\n  <<: *x\n", 3, "!!merge"),
        ("!!python/name:os.system key: 1\n", 1, "!!python/name:os.system"),
    ],
)
def test_a_non_core_tag_is_refused_with_its_line(tmp_path, text, line, tag):
    path = _write(tmp_path, text)
    message = _refusal(path)
    assert message.startswith(f"{path}, line {line}: the YAML tag {tag}")
    assert "only plain YAML is allowed (strings, numbers, booleans, null, lists and mappings" in (
        message
    )
    assert "not valid YAML" not in message


@pytest.mark.parametrize(
    "text", ["a: !!str 24\n", "a: !!int '24'\nb: !!float 1\nc: !!bool true\nd: !!null ''\n"]
)
def test_explicit_core_tags_are_plain_yaml(tmp_path, text):
    check_yaml_file(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "lines", "key", "where"),
    [
        ("a: 1\nb: 2\na: 3\n", "lines 1 and 3", "'a'", "at the top level"),
        (
            "pooling:\n  level: 0.95\n  method: DL\n  level: 0.9\n",
            "lines 2 and 4",
            "'level'",
            "in pooling",
        ),
        (
            "windows:\n  - {label: a, low_h: 1}\n  - {label: b, low_h: 2, low_h: 3}\n",
            "line 3",
            "'low_h'",
            "in windows[1]",
        ),
        ("a: {1: x, 1.0: y}\n", "line 1", "1.0", "in a"),
    ],
)
def test_a_duplicate_key_is_refused_naming_both_lines(tmp_path, text, lines, key, where):
    path = _write(tmp_path, text)
    assert _refusal(path) == (
        f"{path}, {lines}: the key {key} appears twice {where} "
        "(a loader would silently keep the later value)"
    )


def test_a_duplicate_key_under_an_alias_is_found(tmp_path):
    path = _write(tmp_path, "base: &b\n  x: 1\n  x: 2\nuse: *b\n")
    assert "lines 2 and 3: the key 'x' appears twice in base" in _refusal(path)


def test_a_list_as_a_mapping_key_is_refused(tmp_path):
    path = _write(tmp_path, "ok: 1\n? [a, b]\n: 2\n")
    assert _refusal(path).startswith(f"{path}, line 2: a mapping key at the top level is a list")


def test_load_yaml_file_applies_the_guards(tmp_path):
    path = _write(tmp_path, "claims:\n  C01: {a: 1}\n  C01: {a: 2}\n")
    with pytest.raises(ConfigError, match=r"lines 2 and 3: the key 'C01' appears twice"):
        load_yaml_file(path)


def _config() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def _line(needle: str) -> int:
    """1-based line of the repository config's first line holding ``needle``."""
    lines = CONFIG.read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, start=1) if needle in text)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda c: c["pooling"].__setitem__("level", "abc"),
            f", line {_line('  level:')}: pooling.level: 'abc' is not of type 'number'",
        ),
        (
            lambda c: c.__setitem__("windows", "24h"),
            f", line {_line('windows:')}: windows: '24h' is not of type 'array'",
        ),
        (
            lambda c: c["figures"].__setitem__("formats", ["exe"]),
            f", line {_line('formats:')}: figures.formats[0]: 'exe' is not one of ['svg', 'png']",
        ),
        (
            lambda c: c["pooling"].__setitem__("levle", 0.9),
            f", line {_line('pooling:')}: pooling: Additional properties are not allowed "
            "('levle' was unexpected)",
        ),
        (
            lambda c: c.pop("windows"),
            ": the top level: 'windows' is a required property",
        ),
    ],
)
def test_schema_errors_are_one_line_naming_file_line_and_key(edit, expected):
    config = _config()
    edit(config)
    with pytest.raises(ConfigError) as refused:
        validate_config(config, CONFIG)
    assert str(refused.value) == f"{CONFIG}{expected}"


def test_a_long_schema_complaint_is_cut():
    config = _config()
    config["windows"] = {f"key{i}": i for i in range(200)}
    with pytest.raises(ConfigError) as refused:
        validate_config(config, CONFIG)
    message = str(refused.value)
    assert message.startswith(f"{CONFIG}, line {_line('windows:')}: windows: {{'key0': 0,")
    assert message.endswith("…") and len(message) < 400


def _checked(edit) -> str:
    """check_config's refusal of the repository config after ``edit``."""
    config = _config()
    edit(config)
    with pytest.raises(ConfigError) as refused:
        check_config(config, CONFIG)
    message = str(refused.value)
    assert "\n" not in message
    return message


def _window(config: dict, label: str) -> dict:
    return next(w for w in config["windows"] if w["label"] == label)


def test_overlapping_windows_are_refused_naming_both():
    message = _checked(lambda c: _window(c, "72 h").__setitem__("low_h", 25))
    assert message == (
        f"{CONFIG}, line {_line('label: 72 h')}: windows[2]: '24 h' [20, 30] h and '72 h' "
        "[25, 96] h overlap (a visit at 25 h would be in both); windows may not overlap"
    )


def test_windows_that_touch_overlap_as_bounds_are_inclusive():
    message = _checked(lambda c: _window(c, "24 h").__setitem__("high_h", 44))
    assert "'24 h' [20, 44] h and '72 h' [44, 96] h overlap (a visit at 44 h" in message


def test_a_window_inside_a_wide_one_is_found_whatever_the_order():
    def edit(config):
        config["windows"] = [
            {"label": "late", "nominal_h": 50, "low_h": 45, "high_h": 60},
            {"label": "wide", "nominal_h": 10, "low_h": 1, "high_h": 100},
            {"label": "24 h", "nominal_h": 24, "low_h": 20, "high_h": 30},
        ]

    assert "windows[2]: 'wide' [1, 100] h and '24 h' [20, 30] h overlap" in _checked(edit)


def test_adjacent_windows_that_do_not_share_an_hour_pass():
    config = _config()
    _window(config, "24 h")["high_h"] = 43.99
    check_config(config, CONFIG)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (
            lambda c: _window(c, "24 h").update(low_h=30, high_h=20),
            "windows[1]: '24 h' [30, 20] h does not hold its nominal time 24 h",
        ),
        (
            lambda c: _window(c, "72 h").__setitem__("label", "24 h"),
            "windows[2]: the label '24 h' is repeated",
        ),
        (
            lambda c: c["pooling"].__setitem__("timepoint_h", 25),
            "pooling.timepoint_h: no window has the nominal time 25 h (windows' nominal times: "
            "2, 24, 72, 168, 336, 672 h)",
        ),
        (
            lambda c: c["multiverse"]["windows"][0].update(low_h=30, high_h=20),
            "multiverse.windows[0]: '20-30 h' starts at 30 h, after its end at 20 h",
        ),
        (
            lambda c: c["comparisons"].__setitem__("change_correlation", float("nan")),
            "comparisons.change_correlation: nan is not a finite number",
        ),
        (
            lambda c: c["pooling"].__setitem__("timepoint_h", float("inf")),
            "pooling.timepoint_h: inf is not a finite number",
        ),
        (
            lambda c: _window(c, "7 d").__setitem__("low_h", float("nan")),
            "windows[3].low_h: nan is not a finite number",
        ),
        (
            lambda c: c["bayesian"]["priors"]["SMD"][1].__setitem__("tau_prior", "halfnormal:0"),
            "bayesian.priors.SMD[1].tau_prior: the half-normal prior's scale must be a positive "
            "finite number, not 0.0",
        ),
        (
            lambda c: c["bayesian"]["priors"]["logRR"][0].__setitem__("tau_prior", "gamma:1:2"),
            "bayesian.priors.logRR[0].tau_prior: 'gamma:1:2' is not a tau prior",
        ),
        (
            lambda c: c["bayesian"]["priors"]["SMD"][2].__setitem__("name", "halfnormal_0.5"),
            "bayesian.priors.SMD[2].name: 'halfnormal_0.5' is repeated",
        ),
        (
            lambda c: c["bayesian"].__setitem__("credible_level", 100),
            "bayesian.credible_level: 100.0 is not a confidence level",
        ),
    ],
)
def test_what_the_schema_cannot_refuse(edit, fragment):
    assert fragment in _checked(edit)


def test_a_refusal_without_a_file_names_the_config():
    config = copy.deepcopy(_config())
    config["pooling"]["timepoint_h"] = 25
    with pytest.raises(ConfigError, match=r"^config: pooling\.timepoint_h: no window"):
        check_config(config)


def test_libyaml_reads_the_files_where_pyyaml_has_it_and_reads_them_as_python_does():
    if yaml.__with_libyaml__:
        assert SAFE_LOADER is yaml.CSafeLoader
    for path in WORKFLOW_YAML:
        text = path.read_text(encoding="utf-8")
        assert load_yaml_file(path) == yaml.load(text, Loader=yaml.SafeLoader)


def test_a_yaml_syntax_error_names_line_and_column_in_one_line(tmp_path):
    path = _write(tmp_path, "pooling:\n  level: 0.95\n    method: DL\n")
    assert _refusal(path) == (
        f"{path}, line 3, column 11: not valid YAML (mapping values are not allowed here)"
    )
