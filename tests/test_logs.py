"""Logging of the workflow's entry scripts (:mod:`ketamine_meta.io.logs`): INFO to the rule's
log file, warnings to stderr, an escaping exception as one line with its traceback in the file,
and the process's start-up and total time for the pipeline benchmark."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from ketamine_meta.io import logs


@pytest.fixture
def stderr(monkeypatch) -> io.StringIO:
    """Standard error as the handlers made now see it (they keep the stream they are given).

    A message printed later goes to the ``sys.stderr`` of that moment: pytest's, read by
    ``capsys``.
    """
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    return stream


@pytest.fixture
def configured(tmp_path, monkeypatch, stderr):
    """:func:`logs.configure` on a file in ``tmp_path``; the hooks it installs are undone."""
    at_exit = []
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(logs.atexit, "register", at_exit.append)
    path = tmp_path / "logs" / "rule.log"
    logger = logs.configure(path)
    yield logger, path, at_exit
    for handler in logger.handlers:
        handler.close()
    logger.handlers.clear()


def test_info_goes_to_the_file_and_warnings_also_to_stderr(configured, stderr):
    logger, path, _ = configured
    logger.info("wrote results/tables/x.csv")
    logger.warning("3 rows left out")
    for handler in logger.handlers:
        handler.flush()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("INFO start-up ") and lines[0].endswith(" s")
    assert lines[1:] == ["INFO wrote results/tables/x.csv", "WARNING 3 rows left out"]
    assert stderr.getvalue() == "WARNING 3 rows left out\n"


def test_an_escaping_exception_is_one_line_with_the_traceback_in_the_file(configured, capsys):
    _, path, _ = configured
    try:
        raise ValueError("no rows at 24 h")
    except ValueError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    assert capsys.readouterr().err == f"ERROR ValueError: no rows at 24 h (details in {path})\n"
    text = path.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert 'raise ValueError("no rows at 24 h")' in text


def test_the_total_time_and_peak_memory_are_logged_at_exit(configured):
    logger, path, at_exit = configured
    assert len(at_exit) == 1
    at_exit[0]()
    for handler in logger.handlers:
        handler.flush()
    last = path.read_text(encoding="utf-8").splitlines()[-1]
    assert last.startswith("INFO process ") and last.endswith(" MB")
    seconds = float(last.split()[2])
    start_up = float(path.read_text(encoding="utf-8").split()[2])
    assert seconds >= start_up > 0


def test_without_a_file_only_stderr_is_used(monkeypatch, stderr, capsys):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(logs.atexit, "register", lambda f: None)
    logger = logs.configure(None)
    try:
        assert [type(h) for h in logger.handlers] == [logging.StreamHandler]
        sys.excepthook(KeyError, KeyError("route"), None)
        assert capsys.readouterr().err == "ERROR KeyError: 'route'\n"
    finally:
        logger.handlers.clear()


def test_process_clock_and_memory():
    """This process started before the test ran, and has used some memory."""
    start = logs.seconds_since_process_start()
    if start is None:  # not Linux: no /proc
        pytest.skip("no /proc/self/stat")
    assert start > 0
    assert logs.peak_rss_mb() > 10
