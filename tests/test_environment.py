"""The environment files agree, and the configuration schema describes every key."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import REPO


def lock_pins() -> dict[str, str]:
    lines = (REPO / "requirements.lock").read_text().splitlines()
    pins = [line for line in lines if line and not line.startswith("#")]
    return dict(line.lower().split("==") for line in pins)


def test_every_lock_line_is_an_exact_pin():
    lines = [x for x in (REPO / "requirements.lock").read_text().splitlines() if x]
    assert all(x.startswith("#") or x.count("==") == 1 for x in lines)
    assert {"snakemake", "pymare", "statsmodels", "pandas", "seaborn", "jupytext"} <= set(
        lock_pins()
    )


@pytest.mark.parametrize("env_file", ["environment.yml", "workflow/envs/ketamine_meta.yaml"])
def test_conda_environments_carry_the_same_pins(env_file):
    env = yaml.safe_load((REPO / env_file).read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = dict(p.lower().split("==") for p in pip_section if "==" in p)
    assert pins == lock_pins()
    assert "python=3.11" in env["dependencies"]


def test_installed_versions_match_the_lock():
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = dict(line.lower().split("==") for line in frozen.splitlines() if "==" in line)
    mismatched = {k: (v, installed.get(k)) for k, v in lock_pins().items() if installed.get(k) != v}
    assert not mismatched


def walk_schema(node: dict, path: str = "config"):
    yield path, node
    for key, child in node.get("properties", {}).items():
        yield from walk_schema(child, f"{path}.{key}")


def test_config_schema_describes_every_key_and_forbids_others():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    Draft202012Validator.check_schema(schema)
    for path, node in walk_schema(schema):
        assert node.get("description"), f"{path} has no description"
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, path
            assert set(node.get("required", [])) == set(node["properties"]), path


def test_config_is_valid_and_unknown_keys_are_refused():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    Draft202012Validator(schema).validate(config)
    config["pooling"]["typo"] = 1
    errors = list(Draft202012Validator(schema).iter_errors(config))
    assert any("typo" in e.message for e in errors)


def test_runtime_dependencies_are_what_the_library_imports():
    """pyproject's dependencies are exactly the third-party packages src/ imports.

    Snakemake aside: ``ketamine_meta.io.warm_scripts``, which only the Snakefile loads (it is
    in the ``workflow`` extra), imports it in the function the Snakefile calls.
    """
    workflow_only = {"snakemake"}
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    distribution_of = {"yaml": "PyYAML"}
    imported = set()
    for path in (REPO / "src" / "ketamine_meta").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            imported |= {name.split(".")[0] for name in names if name}
    third_party = {
        m
        for m in imported
        if m not in sys.stdlib_module_names and m not in {"ketamine_meta", *workflow_only}
    }
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert workflow_only <= set(extras["optional-dependencies"]["workflow"])
    assert {distribution_of.get(m, m) for m in third_party} == set(declared)
