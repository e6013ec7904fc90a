"""Entry scripts in forks of one warm interpreter (:mod:`ketamine_meta.io.warm_scripts`): the
same files, exit status, one-line errors and BLAS threads as ``python SCRIPT``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from snakemake.script import PythonScript

from ketamine_meta.io import warm_scripts
from ketamine_meta.io.warm_scripts import (
    COLD_SWITCH,
    EARLY_SWITCH,
    needs_cold_start,
    preload_modules,
    run_warm,
    start_early,
    use_warm_scripts,
)

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _script(tmp_path, body: str):
    path = tmp_path / "entry.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_the_preload_is_snakemake_s_job_object_and_the_library_below_the_cli():
    modules = preload_modules()
    assert modules[0] == "snakemake.script"
    assert "ketamine_meta.stats.meta_analysis" in modules
    assert "ketamine_meta.figures.plotting" in modules
    assert "ketamine_meta.io.warm_scripts" in modules
    assert not any(m.startswith("ketamine_meta.cli") for m in modules)
    assert len(modules) == len(set(modules))


def test_a_script_runs_in_its_working_directory_as_main(tmp_path, monkeypatch):
    script = _script(
        tmp_path,
        """
        import os, sys
        assert __name__ == "__main__" and sys.argv == [__file__]
        with open("out.txt", "w") as out:
            out.write(os.environ["OPENBLAS_NUM_THREADS"] + " " + os.environ["OMP_NUM_THREADS"])
        """,
    )
    monkeypatch.chdir(tmp_path)
    run_warm(str(script))
    assert (tmp_path / "out.txt").read_text() == "1 1"


def test_exit_status_and_atexit_as_at_an_interpreter_s_exit(tmp_path, monkeypatch):
    script = _script(
        tmp_path,
        """
        import atexit, sys
        atexit.register(lambda: open("atexit.txt", "w").write("ran"))
        sys.exit(3)
        """,
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_warm(str(script))
    assert failed.value.returncode == 3
    assert (tmp_path / "atexit.txt").read_text() == "ran"


def test_an_escaped_exception_goes_to_the_script_s_excepthook(tmp_path, monkeypatch):
    """The entry scripts' hook (ketamine_meta.io.logs) reports one line; exit status 1."""
    script = _script(
        tmp_path,
        """
        import sys
        def one_line(kind, error, tb):
            open("hook.txt", "w").write(f"{kind.__name__}: {error}")
        sys.excepthook = one_line
        raise ValueError("outcomes.csv row 3, column sd: -1 is negative")
        """,
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(subprocess.CalledProcessError) as failed:
        run_warm(str(script))
    assert failed.value.returncode == 1
    assert (tmp_path / "hook.txt").read_text() == (
        "ValueError: outcomes.csv row 3, column sd: -1 is negative"
    )


def test_the_same_output_as_a_cold_interpreter(tmp_path, monkeypatch):
    """A script that computes with the library writes the same bytes warm and cold."""
    script = _script(
        tmp_path,
        """
        import sys
        import numpy as np
        from ketamine_meta.stats.meta_analysis import random_effects
        fit = random_effects(np.array([0.2, 0.5, 0.9, 0.1]), np.array([0.04, 0.05, 0.09, 0.02]))
        open(sys.argv[0] + ".txt", "w").write(repr((fit.estimate, fit.se, fit.tau2)))
        """,
    )
    monkeypatch.chdir(tmp_path)
    run_warm(str(script))
    warm = (tmp_path / "entry.py.txt").read_text()
    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path)
    assert warm == (tmp_path / "entry.py.txt").read_text()
    assert warm.startswith("(0.")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("conda_env", "/envs/x"),
        ("container_img", "image.sif"),
        ("env_modules", ["R"]),
        ("shadow_dir", ".snakemake/shadow/x"),
        ("bench_record", object()),
        ("threads", 4),
    ],
)
def test_what_only_a_new_process_gives_keeps_the_cold_start(field, value):
    assert not needs_cold_start(_job())
    assert needs_cold_start(_job(**{field: value}))


def _job(**changed) -> SimpleNamespace:
    """A Snakemake PythonScript's fields as a plain one-thread local job has them."""
    plain = dict(
        conda_env=None,
        container_img=None,
        env_modules=None,
        shadow_dir=None,
        bench_record=None,
        threads=1,
    )
    return SimpleNamespace(**{**plain, **changed})


def _workflow(main=True, local=True):
    return SimpleNamespace(is_main_process=main, local_exec=local)


def test_only_the_main_process_of_a_local_run_and_not_when_switched_off(monkeypatch):
    monkeypatch.setattr(PythonScript, "execute_script", PythonScript.execute_script)
    cold = PythonScript.execute_script
    assert not use_warm_scripts(_workflow(main=False))
    assert not use_warm_scripts(_workflow(local=False))
    monkeypatch.setenv(COLD_SWITCH, "1")
    assert not use_warm_scripts(_workflow())
    assert PythonScript.execute_script is cold
    monkeypatch.delenv(COLD_SWITCH)
    assert use_warm_scripts(_workflow())
    assert use_warm_scripts(_workflow())  # a second Snakefile parse wraps the original once
    assert PythonScript.execute_script.cold_start is cold


def test_snakemake_s_script_job_goes_warm_or_cold(monkeypatch):
    calls = []
    monkeypatch.setattr(
        PythonScript,
        "execute_script",
        lambda self, fname, edit=False: calls.append(("cold", fname)),
    )

    def warm(fname):
        calls.append(("warm", fname))
        return fname != "lost.py"  # lost.py: the forkserver went away while it ran

    monkeypatch.setattr(warm_scripts, "run_warm", warm)
    use_warm_scripts(_workflow())
    PythonScript.execute_script(_job(), "a.py")
    PythonScript.execute_script(_job(threads=2), "b.py")
    PythonScript.execute_script(_job(), "c.py", edit=True)
    PythonScript.execute_script(_job(), "lost.py")
    assert calls == [
        ("warm", "a.py"),
        ("cold", "b.py"),
        ("cold", "c.py"),
        ("warm", "lost.py"),
        ("cold", "lost.py"),
    ]


def test_a_lost_forkserver_is_reported_and_started_again_with_one_thread(
    tmp_path, monkeypatch, capsys
):
    """The forkserver killed while a fork runs: the fork's status is unknown (multiprocessing
    says 255), so the caller is told to run it again; the next fork gets a new server with the
    one-thread environment."""
    killer = _script(
        tmp_path,
        """
        import os, signal
        os.kill(os.getppid(), signal.SIGKILL)  # the parent of a fork is the forkserver
        """,
    )
    monkeypatch.chdir(tmp_path)
    assert run_warm(str(killer)) is False
    assert "the warm interpreter was lost while entry.py ran" in capsys.readouterr().err
    check = tmp_path / "check.py"
    check.write_text('import os\nopen("out.txt", "w").write(os.environ["OPENBLAS_NUM_THREADS"])\n')
    assert run_warm(str(check)) is True
    assert (tmp_path / "out.txt").read_text() == "1"


@pytest.mark.parametrize(("value", "early"), [("1", True), ("0", False), (None, False)])
def test_the_early_start_is_asked_for_by_its_switch_only(monkeypatch, value, early):
    if value is None:
        monkeypatch.delenv(EARLY_SWITCH, raising=False)
    else:
        monkeypatch.setenv(EARLY_SWITCH, value)
    assert start_early() is early


@pytest.mark.parametrize(
    ("arguments", "early"),
    [
        (["--cores", "2"], "1"),
        (["--cores", "2", "--report-after-run", "--report", "r.html"], "1"),
        (["--cores", "2", "-n"], None),
        (["--dry-run"], None),
        (["--dryrun", "--forceall"], None),
    ],
)
def test_make_s_runner_asks_for_the_early_start_unless_it_is_a_dry_run(
    monkeypatch, arguments, early
):
    monkeypatch.syspath_prepend(str(TOOLS))
    import run_pipeline

    monkeypatch.delenv(EARLY_SWITCH, raising=False)
    monkeypatch.setattr(run_pipeline, "clear_stale_lock", lambda _: 0)
    monkeypatch.setattr(run_pipeline, "edited_files", lambda: [])
    calls = []
    monkeypatch.setattr(
        run_pipeline.subprocess,
        "run",
        lambda command, check, env: calls.append((command, env)) or SimpleNamespace(returncode=0),
    )
    assert run_pipeline.main(arguments) == 0
    [(command, env)] = calls
    assert command[-len(arguments) :] == arguments
    assert env.get(EARLY_SWITCH) == early
