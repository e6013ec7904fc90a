"""The one error of the command line (:mod:`ketamine_meta.cli.errors`): a :class:`UsageError`
raised anywhere in a command ends it with exit status 2 and one line on standard error."""

from __future__ import annotations

import pytest

from ketamine_meta.cli import commands
from ketamine_meta.cli.errors import UsageError


def test_a_usage_error_is_its_own_kind_of_exception():
    """Not a ValueError or OSError: the command line catches exactly the errors it raised."""
    assert issubclass(UsageError, Exception)
    assert not issubclass(UsageError, ValueError | OSError)
    assert str(UsageError("data.csv: no such file")) == "data.csv: no such file"


def test_a_missing_file_is_one_line_and_status_2(tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    assert commands.main(["pool", "--input", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"ketamine-meta pool: error: {missing}: no such file\n"


def test_a_newline_in_the_message_stays_on_one_line(tmp_path, capsys):
    missing = tmp_path / "two\nlines.csv"
    assert commands.main(["pool", "--input", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err == f"ketamine-meta pool: error: {tmp_path}/two\\nlines.csv: no such file\n"


def test_a_usage_error_raised_by_any_command_is_caught(monkeypatch, capsys):
    def refuse(args):
        raise UsageError(f"refused {args.directory}")

    monkeypatch.setattr(commands, "cmd_validate", refuse)
    assert commands.main(["validate", "somewhere"]) == 2
    assert capsys.readouterr().err == "ketamine-meta validate: error: refused somewhere\n"


def test_other_exceptions_are_not_swallowed(monkeypatch):
    def crash(args):
        raise RuntimeError("a bug, not bad input")

    monkeypatch.setattr(commands, "cmd_validate", crash)
    with pytest.raises(RuntimeError, match="a bug"):
        commands.main(["validate", "somewhere"])
