"""A bad config/config.yaml through the whole workflow: refused while Snakemake parses it.

Each case edits the configuration of one temporary copy of the repository and runs the
workflow: it must stop with a non-zero exit and one line naming the file, the line and the
key (or tag), without a traceback and before anything is written. The configuration is read
by the workflow only (the command-line interface takes none), so these classes of bad input
are here rather than in the CLI corpus (tests/bad_inputs/cases_config.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO, copy_repo, run_snakemake, tree_digest

pytestmark = pytest.mark.pipeline

CONFIG_TEXT = (REPO / "config" / "config.yaml").read_text(encoding="utf-8")


def _line(needle: str) -> int:
    """1-based line of the repository config's first line holding ``needle``."""
    lines = CONFIG_TEXT.splitlines()
    return next(i for i, text in enumerate(lines, start=1) if needle in text)


def _replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert text.count(old) == 1, old
        return text.replace(old, new)

    return edit


#: (id, edit of the config's text, fragments of the one line that refuses it).
CASES = [
    (
        "python_object_tag",
        _replace("timepoint_h: 24", "timepoint_h: !!python/object:os.system 24"),
        [
            f"config/config.yaml, line {_line('timepoint_h:')}:",
            "the YAML tag !!python/object:os.system",
            "only plain YAML is allowed (strings, numbers, booleans, null, lists and mappings",
        ],
    ),
    (
        "duplicate_nested_key",
        _replace("  level: 0.95\n", "  level: 0.95\n  level: 0.9\n"),
        [
            f"config/config.yaml, lines {_line('  level:')} and {_line('  level:') + 1}:",
            "the key 'level' appears twice in pooling",
        ],
    ),
    (
        "overlapping_windows",
        _replace(
            "{label: 72 h, nominal_h: 72, low_h: 44", "{label: 72 h, nominal_h: 72, low_h: 25"
        ),
        [
            f"config/config.yaml, line {_line('label: 72 h')}: windows[2]:",
            "'24 h' [20, 30] h and '72 h' [25, 96] h overlap",
        ],
    ),
    (
        "level_not_a_number",
        _replace("  level: 0.95", "  level: abc"),
        [f"config/config.yaml, line {_line('  level:')}: pooling.level: 'abc' is not of type"],
    ),
    (
        "windows_a_string",
        lambda text: (
            text[: text.index("windows:\n")]
            + "windows: 24h\n"
            + text[text.index("\n\n", text.index("windows:\n")) :]
        ),
        [f"config/config.yaml, line {_line('windows:')}: windows: '24h' is not of type 'array'"],
    ),
    (
        "unknown_figure_format",
        _replace("formats: [svg, png]", "formats: [exe]"),
        [f"config/config.yaml, line {_line('formats:')}: figures.formats[0]: 'exe' is not one of"],
    ),
    (
        "nan_correlation",
        _replace("change_correlation: 0.5", "change_correlation: .nan"),
        [
            f"config/config.yaml, line {_line('change_correlation:')}: "
            "comparisons.change_correlation: nan is not a finite number"
        ],
    ),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """One copy for every case: each rewrites its config and puts the original back."""
    return copy_repo(tmp_path_factory.mktemp("bad_config") / "repo")


@pytest.mark.parametrize(("edit", "fragments"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_config_is_refused_in_one_line_before_anything_runs(repo, edit, fragments):
    config = repo / "config" / "config.yaml"
    before = tree_digest(repo / "results")
    config.write_text(edit(CONFIG_TEXT), encoding="utf-8")
    try:
        # Refused while parsing, the run never reaches a rule; --until bounds the time a
        # regression (a configuration let through) would spend running the workflow.
        result = run_snakemake(repo, "--until", "pull")
    finally:
        config.write_text(CONFIG_TEXT, encoding="utf-8")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output, output[-3000:]
    assert "Error validating config file" not in output  # Snakemake's multi-line message
    assert any(all(f in line for f in fragments) for line in output.splitlines()), output[-3000:]
    assert tree_digest(repo / "results") == before
    assert not (repo / "data" / "processed").exists()
