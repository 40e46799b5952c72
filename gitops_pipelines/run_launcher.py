"""The instance's run launcher (dagster.yaml `run_launcher`): Dagster's default one, which also answers run
monitoring's question "is this run's worker still alive?".

Without that answer a run whose worker died with the daemon (its code server and run workers are the daemon's
children) or with the machine stays STARTED for ever: the run page says "in progress" while nothing runs, and a
person has to force-terminate it before anyone notices. With it, the daemon's run monitoring (dagster.yaml
`run_monitoring`) marks such a run failed within a poll, and re-executing it is the next step, as after any failure.

The default launcher starts run workers on the code server's machine. A worker is known dead only when that is
this machine (a socket, or a loopback host) and the process that recorded the run's start is gone or is another
program; anything else is UNKNOWN and left alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dagster import DagsterEventType, DagsterRun
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

_LOOPBACK = {"localhost", "127.0.0.1", "::1", None}


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher with a run worker health check for workers on this machine."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        if not _on_this_machine(run):
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run worker is on another machine")
        records = self._instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_START, limit=1).records
        entry = records[0].event_log_entry if records else None
        pid = entry.dagster_event.pid if entry is not None and entry.dagster_event is not None else None
        if pid is None:  # the process that started the run is its worker
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run worker has not recorded its start yet")
        if worker_alive(pid, entry.timestamp):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"the run worker (pid {pid}) ended without ending the run: the daemon, its code "
                                 "server or the machine stopped under it. Re-execute the run from failure; a deploy "
                                 "it was applying says what it left (a state lock, with how to release it).",
            run_worker_id=str(pid))


def _on_this_machine(run: DagsterRun) -> bool:
    try:
        info = json.loads(run.tags.get(GRPC_INFO_TAG) or "{}")
    except ValueError:
        return False
    return bool(info.get("socket")) or info.get("host") in _LOOPBACK


def worker_alive(pid: int, started_by: float) -> bool:
    """Whether process `pid` is still the one that was running at `started_by` (epoch seconds): it exists, is no
    zombie, and started no later (a pid reused by a newer process is not the worker)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return True  # no /proc (not Linux): the pid exists, trust it
    fields = stat[stat.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    state, started = fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return state not in ("Z", "X") and started <= started_by + 1.0
