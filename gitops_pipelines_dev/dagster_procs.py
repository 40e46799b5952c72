"""The Dagster webserver and daemon as real processes (graphql_client.py drives them as the UI does).

Each process runs in its own process group (the webserver starts code servers as children), with signal handlers
reset to the defaults: a process started from a background script otherwise inherits an ignored SIGINT/SIGTERM.
`stop()` sends SIGTERM to the group, then SIGKILL to whatever is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

from gitops_pipelines_dev.graphql_client import TERMINAL_RUN_STATUSES, DagsterGraphQL, GraphQLError  # noqa: F401
from gitops_pipelines_dev.ports import free_port, wait_for_http



def _bin(name: str) -> str:
    """A console script of this virtualenv (beside sys.executable), else the bare name for PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _reset_signals() -> None:  # runs in the child between fork and exec
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


class ManagedProcess:
    """One command in its own process group, output to a log file."""

    def __init__(self, name: str, cmd: list[str], env: Mapping[str, str], cwd: Path, log_file: Path):
        self.name = name
        self.cmd = cmd
        self.env = dict(env)
        self.cwd = cwd
        self.log_file = log_file
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ManagedProcess":
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, cwd=str(self.cwd), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_reset_signals,
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def terminate(self) -> None:
        """SIGTERM to the whole group, without waiting."""
        if self.proc is not None:
            _signal_group(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the whole group, wait, then SIGKILL whatever is left of it."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the leader's pid is the group id
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # children (code servers, run workers) may outlive the leader: give them a moment, then kill
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(pgid, signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_members(pgid: int) -> list[int]:
    """The pids of one process group, read from /proc (Linux)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        if int(fields[2]) == pgid:  # after the command: state, ppid, pgrp
            members.append(int(stat.parent.name))
    return sorted(members)


def command_line(pid: int) -> list[str]:
    """A process's argv from /proc, empty once it has exited."""
    try:
        return [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a]
    except OSError:
        return []


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


class DagsterProcesses:
    """`dagster-webserver` + `dagster-daemon` for one DAGSTER_HOME and workspace.yaml, on 127.0.0.1."""

    def __init__(
        self,
        dagster_home: Path,
        workspace: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        port: int | None = None,
        daemon: bool = True,
    ):
        self.dagster_home = Path(dagster_home)
        self.workspace = Path(workspace)
        self.cwd = Path(cwd) if cwd else self.workspace.parent
        self.port = port or free_port()
        self.log_dir = Path(log_dir) if log_dir else self.dagster_home / "logs"
        self.with_daemon = daemon
        base = dict(os.environ if env is None else env)
        base["DAGSTER_HOME"] = str(self.dagster_home)
        base.setdefault("PYTHONUNBUFFERED", "1")
        self.env = base
        self.webserver: ManagedProcess | None = None
        self.daemon: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> "DagsterProcesses":
        """The webserver first, the daemon once it answers: on a fresh DAGSTER_HOME, processes that create the
        SQLite storage at the same moment can stamp alembic twice ("more than one head present")."""
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        try:
            self.webserver = ManagedProcess(
                "dagster-webserver",
                [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port), "-w", str(self.workspace)],
                self.env, self.cwd, self.log_dir / "dagster-webserver.log",
            ).start()
            try:
                wait_for_http(self.url + "/server_info", timeout=timeout, proc=self.webserver.proc)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\n--- webserver log ---\n{self.webserver.log_tail()}") from None
            if self.with_daemon:
                self.start_daemon()
        except BaseException:
            self.stop()
            raise
        return self

    def start_daemon(self) -> ManagedProcess:
        """(Re)start `dagster-daemon`, its output appended to the same log."""
        self.daemon = ManagedProcess(
            "dagster-daemon", [_bin("dagster-daemon"), "run", "-w", str(self.workspace)],
            self.env, self.cwd, self.log_dir / "dagster-daemon.log",
        ).start()
        return self.daemon

    def kill_daemon(self, timeout: float = 10.0) -> list[int]:
        """SIGKILL the daemon's whole process group (its code servers and the run workers they launched), as a
        lost machine would; waits until none of it is left. Returns the pids that were killed."""
        assert self.daemon is not None and self.daemon.proc is not None, "no daemon started"
        pgid = self.daemon.proc.pid
        pids = group_members(pgid)
        _signal_group(pgid, signal.SIGKILL)
        self.daemon.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        return pids

    def check_alive(self) -> None:
        """Raise with the log tail if the webserver or the daemon has exited."""
        for proc in (self.webserver, self.daemon):
            if proc is not None and not proc.running:
                raise RuntimeError(f"{proc.name} exited with code {proc.proc.returncode}:\n{proc.log_tail()}")

    def stop(self) -> None:
        procs = [p for p in (self.webserver, self.daemon) if p is not None]
        for proc in procs:  # both shut down at once
            proc.terminate()
        for proc in procs:
            proc.stop()

    def __enter__(self) -> "DagsterProcesses":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def graphql(self, timeout: float = 60.0) -> "DagsterGraphQL":
        return DagsterGraphQL("127.0.0.1", self.port, timeout=timeout)
