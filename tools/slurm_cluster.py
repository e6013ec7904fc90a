"""Start or stop a real single-node SLURM cluster on localhost (Debian's slurm-wlm).

Usage: python tools/slurm_cluster.py start|stop|status [DIR]

Everything the cluster writes (configuration, state, spool, logs, pid files) is under DIR
(default ``.slurm`` in the repository, git-ignored). Authentication is ``auth/none``: the
cluster is one machine's loopback, for tests. Clients (sbatch, squeue, Snakemake's SLURM
executor) find it through ``SLURM_CONF=DIR/slurm.conf``, which ``start`` prints.

Snakemake's job-step executor (snakemake-executor-plugin-slurm-jobstep 0.6.1) removes every
``SLURM_*`` variable but the job's identity before its nested ``srun``, ``SLURM_CONF``
included, so inside a job srun would look for /etc/slurm/slurm.conf. A real cluster has that
file; this one keeps everything under DIR, so ``start`` also writes ``DIR/bin/srun``, which
sets ``SLURM_CONF`` and runs the real srun: put ``DIR/bin`` first on PATH (``start`` prints
it too).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def slurm_conf(base: Path) -> str:
    """The cluster's slurm.conf: one node with this machine's CPUs and memory."""
    cpus = os.cpu_count() or 1
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    host = socket.gethostname()
    user = getpass.getuser()
    return f"""# Written by tools/slurm_cluster.py; a single-node test cluster on {host}.
ClusterName=ketamine-meta
SlurmctldHost={host}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/none
CredType=cred/none
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
# Finished jobs stay visible to squeue for 10 minutes (the executor polls squeue; there
# is no accounting database).
MinJobAge=600
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def client_env(base: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment in which sbatch, squeue and Snakemake reach the cluster of ``base``."""
    environ = dict(os.environ if environ is None else environ)
    return {
        **environ,
        "SLURM_CONF": str(base / "slurm.conf"),
        "PATH": f"{base / 'bin'}{os.pathsep}{environ.get('PATH', '')}",
    }


def _write_srun_wrapper(base: Path) -> None:
    real = shutil.which("srun")
    if real is None:
        raise SystemExit("srun not found: apt-get install slurm-wlm")
    wrapper = base / "bin" / "srun"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nSLURM_CONF="{base / "slurm.conf"}" exec "{real}" "$@"\n')
    wrapper.chmod(0o755)


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def start(base: Path, timeout_s: float = 60) -> None:
    """Write the configuration, start slurmctld and slurmd, wait until the node is idle."""
    for tool in ("slurmctld", "slurmd", "sinfo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install slurm-wlm")
    stop(base)
    for folder in ("state", "spool"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    (base / "slurm.conf").write_text(slurm_conf(base))
    _write_srun_wrapper(base)
    env = client_env(base)
    subprocess.run(["slurmctld", "-c"], env=env, check=True)
    subprocess.run(["slurmd"], env=env, check=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True
        ).stdout.strip()
        if state in ("idle", "mix", "alloc"):
            print(f"SLURM_CONF={env['SLURM_CONF']}")
            print(f"PATH={base / 'bin'}:$PATH")
            return
        time.sleep(0.5)
    raise SystemExit(f"the node did not become idle within {timeout_s:g} s; see {base}/*.log")


def stop(base: Path) -> None:
    """Stop the daemons of ``base`` if they run."""
    for name in ("slurmd.pid", "slurmctld.pid"):
        pid = _pid(base / name)
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)


def main(argv: list[str]) -> int:
    """Entry point."""
    if len(argv) < 2 or argv[1] not in ("start", "stop", "status"):
        print(__doc__, file=sys.stderr)
        return 2
    base = (Path(argv[2]) if len(argv) > 2 else ROOT / ".slurm").resolve()
    if argv[1] == "start":
        start(base)
    elif argv[1] == "stop":
        stop(base)
    else:
        subprocess.run(["sinfo"], env=client_env(base), check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
