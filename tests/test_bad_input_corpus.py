"""Every class of the bad-input corpus (tests/bad_inputs/cases.py): the exit status, the
one-line message naming what is wrong, and no traceback.

The cases run the command line in this process (``cli.main``): an exception escaping it would
be a traceback, so the test fails on one; the console script itself is run on a sample of the
cases as a separate process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_bad_input
from bad_inputs.cases import CASES, Case

from conftest import REPO
from ketamine_meta.cli.commands import main

#: Classes run through the whole workflow: every test of tests/test_bad_input.py.
PIPELINE_CLASSES = sum(name.startswith("test_") for name in vars(test_bad_input))


def _prepare(case: Case, tmp: Path) -> list[str]:
    shutil.copytree(REPO / "data" / "raw", tmp / "pkg")
    case.build(tmp)
    return [a.replace("{tmp}", str(tmp)) for a in case.args]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_case(case, tmp_path, capsys, monkeypatch):
    args = _prepare(case, tmp_path)
    monkeypatch.chdir(REPO)
    try:
        status = main(args)
    except SystemExit as exc:  # argparse refusing an argument
        status = exc.code
    out = capsys.readouterr()
    text = out.out + out.err
    assert status == case.exit, text[-2000:]
    for fragment in case.message:
        assert fragment in text, f"{fragment!r} not in:\n{text[-2000:]}"
    if case.exit == 2:
        assert out.err.count("\n") == 1, "a usage error is one line"
    if case.exit == 1:
        # An invalid package lists every problem, one located line each.
        first, *problems = out.err.rstrip("\n").split("\n")
        assert first.startswith("data package is invalid")
        assert problems and all(line.startswith("  ") for line in problems)
    if case.exit:
        assert not out.out, "nothing is written to standard output on an error"


@pytest.mark.parametrize(
    "case_id", ["traversal_relative", "latin1_byte", "pool_level_nan", "km_rising_at_risk"]
)
def test_console_script_prints_no_traceback(case_id, tmp_path):
    case = next(c for c in CASES if c.id == case_id)
    args = _prepare(case, tmp_path)
    script = Path(sys.executable).with_name("ketamine-meta")
    result = subprocess.run(
        [str(script), *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == case.exit
    assert "Traceback" not in result.stdout + result.stderr
    assert all(fragment in result.stderr for fragment in case.message)


def test_the_corpus_covers_sixty_classes_once_each():
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids)
    assert PIPELINE_CLASSES == 14
    assert len(CASES) + PIPELINE_CLASSES >= 60
    assert all(c.message and c.what for c in CASES)
