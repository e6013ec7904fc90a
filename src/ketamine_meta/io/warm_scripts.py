"""Run the workflow's Python entry scripts in forks of one warm interpreter.

Snakemake's ``script:`` directive starts a new interpreter for every job, which then imports
NumPy, pandas, SciPy, statsmodels, Matplotlib and this library afresh: about a second per job,
half of the whole pipeline's process time (``benchmarks/pipeline.py``). Here each script
instead runs in a fork of one interpreter that imported them once: the standard library's
*forkserver* (:mod:`multiprocessing`), a single-threaded process started for one Snakemake run
and gone with it, so that a fork inherits no lock held by another thread and a library edited
between two runs is imported afresh by the next.

Nothing else changes: the script Snakemake wrote (its preamble, which unpickles the job's
``snakemake`` object, then the script's own text) runs in the fork as ``python SCRIPT`` would
run it, in the job's working directory, with the same environment, one BLAS thread as
Snakemake gives a one-thread job, and the same exit status; a failure is reported to
Snakemake as the failed command, as the cold start reports it. Where a job needs what only a
new process gives (a conda or container environment, environment modules, a shadow
directory, a benchmark record, more than one thread, an edited notebook) and in a job
Snakemake runs on a cluster node (one job per process, so nothing is shared), the cold start
of Snakemake is kept. ``KETAMINE_META_COLD_SCRIPTS=1`` keeps it everywhere.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing
import multiprocessing.forkserver
import os
import pkgutil
import runpy
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# What every entry script imports, once, in the forkserver: Snakemake's job object (which the
# preamble unpickles) and every module of the library below the command line, which in turn
# imports the scientific stack.
LIBRARY_LAYERS = ("stats", "evidence", "analyses", "figures", "io")
# What Snakemake's shell() sets for a one-thread job: the fork's BLAS must match the cold start.
ONE_THREAD = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "GOTO_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    )
}
COLD_SWITCH = "KETAMINE_META_COLD_SCRIPTS"
# Set by tools/run_pipeline.py (what `make` runs) for a run that executes jobs: the forkserver
# then starts while Snakemake parses the workflow and builds the DAG, not after. Snakemake
# itself does not know at parse time whether it will execute anything (a dry run, --report).
EARLY_SWITCH = "KETAMINE_META_WARM_EARLY"
#: The exit status multiprocessing gives a fork whose forkserver went away before it could
#: report the fork's own (``popen_forkserver.Popen.poll``); no entry script exits with it.
LOST = 255
# prctl(2): deliver this signal when the parent (the forkserver) exits.
PR_SET_PDEATHSIG = 1

_lock = threading.Lock()
_context: multiprocessing.context.BaseContext | None = None


def preload_modules() -> list[str]:
    """Modules the forkserver imports before its first fork.

    Snakemake's script support and every module of the library's layers, listed from the
    source, not imported here.
    """
    root = Path(__file__).resolve().parents[1]
    modules = ["snakemake.script"]
    for layer in LIBRARY_LAYERS:
        modules += [
            f"ketamine_meta.{layer}.{info.name}"
            for info in sorted(pkgutil.iter_modules([str(root / layer)]), key=lambda m: m.name)
        ]
    return modules


@contextmanager
def _environment(overrides: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def warm_context() -> multiprocessing.context.BaseContext:
    """The forkserver context, its server running.

    Started with the preloads and the one-thread environment; the server imports them while
    Snakemake goes on. A server that has gone away is started again the same way (a server
    started by a bare ``Process.start()`` would not have the one-thread environment, and its
    forks' BLAS would choose its own thread count).
    """
    global _context
    with _lock:
        if _context is None:
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(preload_modules())
        with _environment(ONE_THREAD):
            multiprocessing.forkserver.ensure_running()
        return _context


def run_script_file(script: str, cwd: str) -> None:
    """In the fork: run ``script`` as ``python script`` would, then exit with its status.

    An exception that escapes the script goes to ``sys.excepthook`` (the entry scripts' one-line
    report, ``ketamine_meta.io.logs``) and exits 1; functions the script registered with
    :mod:`atexit` run, as at an interpreter's exit (multiprocessing's fork skips them).
    """
    _die_with_parent()
    os.chdir(cwd)
    sys.argv = [script]
    status: int | str | None = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        status = stop.code
    except BaseException:  # reported as the interpreter would report it
        sys.excepthook(*sys.exc_info())
        status = 1
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(status)


def _die_with_parent() -> None:
    """Stop this fork when its forkserver exits (with the Snakemake that started it).

    So that a fork left running cannot write an output after Snakemake removed it as
    incomplete.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def run_warm(script: str) -> bool:
    """Run ``script`` in a fork of the warm interpreter; whether its exit status is known.

    A non-zero exit raises :class:`subprocess.CalledProcessError`, what Snakemake's ``shell``
    raises for it. :data:`LOST` (multiprocessing's status when the forkserver itself went
    away while the fork ran, so that nobody could report how the fork ended) returns False,
    for the caller to run the script again in a new interpreter.
    """
    process = warm_context().Process(
        target=run_script_file, args=(script, os.getcwd()), name=Path(script).name
    )
    try:
        process.start()
    except (EOFError, OSError):  # a server dying as it was asked for a fork
        status = LOST
    else:
        process.join()
        status = process.exitcode
    if status == LOST:
        print(
            f"ketamine-meta: the warm interpreter was lost while {Path(script).name} ran; "
            "running it again in a new interpreter",
            file=sys.stderr,
        )
        _await_server_exit()
        return False
    if status:
        raise subprocess.CalledProcessError(status, f"python {script}")
    return True


def _await_server_exit(timeout_s: float = 10.0) -> None:
    """Wait until a lost forkserver has exited, without reaping it.

    Its forks see its pipes close before the kernel has made it a zombie; until then
    ``ensure_running`` (which reaps it and starts a new one) takes it for alive. ``WNOWAIT``
    leaves the reaping to ``ensure_running``. The server's pid is multiprocessing's own
    record (``forkserver._forkserver``), which has no public accessor.
    """
    pid = multiprocessing.forkserver._forkserver._forkserver_pid
    deadline = time.monotonic() + timeout_s
    while pid is not None and time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
        except ChildProcessError:
            return
        time.sleep(0.01)


def needs_cold_start(script) -> bool:
    """Whether a Snakemake ``PythonScript`` needs a new interpreter (see the module's text)."""
    return bool(
        script.conda_env
        or script.container_img
        or script.env_modules
        or script.shadow_dir
        or script.bench_record is not None
        or script.threads != 1
    )


def start_early() -> bool:
    """Whether to start the forkserver while the workflow is parsed (:data:`EARLY_SWITCH`)."""
    return os.environ.get(EARLY_SWITCH) == "1"


def use_warm_scripts(workflow) -> bool:
    """Route Snakemake's Python ``script:`` jobs through :func:`run_warm` in this process.

    Called from the Snakefile with its ``workflow``; only in the main Snakemake process of a
    local run, and not when ``KETAMINE_META_COLD_SCRIPTS`` is set. Returns whether it did.
    """
    if os.environ.get(COLD_SWITCH) or not (workflow.is_main_process and workflow.local_exec):
        return False
    from snakemake.script import PythonScript

    cold: Callable = getattr(PythonScript.execute_script, "cold_start", PythonScript.execute_script)

    def execute_script(self, fname, edit=False):
        if edit or needs_cold_start(self) or not run_warm(fname):
            return cold(self, fname, edit)
        return None

    execute_script.cold_start = cold
    PythonScript.execute_script = execute_script
    return True
