"""The Dagster webserver and daemon as real processes, and a small GraphQL client to drive them like the UI does.

Each process runs in its own process group (the webserver starts code servers as children), with signal handlers
reset to the defaults: a process started from a background script otherwise inherits an ignored SIGINT/SIGTERM.
`stop()` sends SIGTERM to the group, then SIGKILL to whatever is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Mapping

from gitops_pipelines_dev.ports import free_port, wait_for_http

TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


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


def _metadata_value(entry: dict) -> Any:
    kind = entry["__typename"]
    if kind == "JsonMetadataEntry":
        return json.loads(entry["jsonString"])
    if kind == "IntMetadataEntry":
        return entry["intValue"] if entry.get("intValue") is not None else int(entry["intRepr"])
    for field in ("text", "floatValue", "boolValue", "mdStr", "path", "url"):
        if field in entry:
            return entry[field]
    return None


class GraphQLError(RuntimeError):
    pass


class DagsterGraphQL:
    """The official `DagsterGraphQLClient` for launches, plus raw queries for what it does not cover."""

    def __init__(self, host: str, port: int, timeout: float = 60.0):
        self.host = host
        self.port = port
        self.timeout = timeout

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/graphql"

    @property
    def client(self):
        from dagster_graphql import DagsterGraphQLClient

        return DagsterGraphQLClient(self.host, port_number=self.port, timeout=int(self.timeout))

    def query(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        """POST one query or mutation to /graphql; return `data`, raise on GraphQL errors."""
        body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
        req = urllib.request.Request(self.endpoint, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            payload = json.loads(resp.read())
        if payload.get("errors"):
            raise GraphQLError(json.dumps(payload["errors"], indent=1)[:4000])
        return payload["data"]

    # -- launching -------------------------------------------------------------------------------------------
    def launch(
        self,
        job_name: str,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        partition: str | None = None,
        asset_selection: list | None = None,
    ) -> str:
        """Launch a job as the launchpad does; a partition goes in the `dagster/partition` tag. Returns the run id."""
        all_tags = dict(tags or {})
        if partition is not None:
            all_tags["dagster/partition"] = partition
        return self.client.submit_job_execution(
            job_name, run_config=dict(run_config or {}), tags=all_tags or None, asset_selection=asset_selection,
        )

    def add_partition(self, partitions_def: str, key: str, location: str, repository: str = "__repository__") -> None:
        """Add a dynamic partition key, as the UI's "Add partition" does (an existing key is fine)."""
        data = self.query(
            """mutation Add($sel: RepositorySelector!, $name: String!, $key: String!) {
                 addDynamicPartition(repositorySelector: $sel, partitionsDefName: $name, partitionKey: $key) {
                   __typename ... on PythonError { message } ... on UnauthorizedError { message } } }""",
            {"sel": {"repositoryLocationName": location, "repositoryName": repository}, "name": partitions_def,
             "key": key},
        )["addDynamicPartition"]
        if data["__typename"] not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            raise GraphQLError(f"addDynamicPartition {partitions_def}/{key}: {data}")

    # -- assets ----------------------------------------------------------------------------------------------
    def latest_materialization(self, asset_key: list[str], partition: str | None = None) -> dict | None:
        """The newest materialization of an asset (optionally one partition): run id, partition and metadata
        as plain values, as the asset page shows them; None if it never materialized."""
        data = self.query(
            """query Mat($key: AssetKeyInput!, $partitions: [String!]) { assetOrError(assetKey: $key) {
                 __typename
                 ... on Asset { assetMaterializations(partitions: $partitions, limit: 1) {
                   runId partition metadataEntries { label __typename
                     ... on TextMetadataEntry { text } ... on IntMetadataEntry { intValue intRepr }
                     ... on FloatMetadataEntry { floatValue } ... on BoolMetadataEntry { boolValue }
                     ... on JsonMetadataEntry { jsonString } ... on MarkdownMetadataEntry { mdStr }
                     ... on PathMetadataEntry { path } ... on UrlMetadataEntry { url } } } } } }""",
            {"key": {"path": list(asset_key)}, "partitions": [partition] if partition else None},
        )["assetOrError"]
        if data["__typename"] != "Asset" or not data["assetMaterializations"]:
            return None
        mat = data["assetMaterializations"][0]
        return {"run_id": mat["runId"], "partition": mat["partition"],
                "metadata": {e["label"]: _metadata_value(e) for e in mat["metadataEntries"]}}

    # -- runs ------------------------------------------------------------------------------------------------
    def run(self, run_id: str) -> dict:
        """Status, times, tags and per-step times (`stepStats`) of one run."""
        data = self.query(
            """query Run($runId: ID!) { runOrError(runId: $runId) {
                 __typename
                 ... on Run { runId jobName status creationTime startTime endTime tags { key value }
                              stepStats { stepKey status startTime endTime } }
                 ... on PythonError { message }
                 ... on RunNotFoundError { message } } }""",
            {"runId": run_id},
        )["runOrError"]
        if data["__typename"] != "Run":
            raise GraphQLError(f"run {run_id}: {data['__typename']}: {data.get('message')}")
        data["tags"] = {t["key"]: t["value"] for t in data["tags"]}
        return data

    def wait_for_run(self, run_id: str, timeout: float = 300.0, poll: float = 0.5) -> dict:
        """Poll until the run reaches SUCCESS, FAILURE or CANCELED; return its `run()` record."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.run(run_id)
            if info["status"] in TERMINAL_RUN_STATUSES:
                return info
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {info['status']} after {timeout:.0f}s")
            time.sleep(poll)

    def run_events(self, run_id: str) -> list[dict]:
        """Every event of a run: type, message, step key and (for failures) the error message and its causes."""
        events: list[dict] = []
        cursor = None
        while True:
            data = self.query(
                """query Logs($runId: ID!, $cursor: String) { logsForRun(runId: $runId, afterCursor: $cursor) {
                     __typename
                     ... on EventConnection { cursor hasMore events {
                       __typename
                       ... on MessageEvent { message stepKey level eventType }
                       ... on ErrorEvent { error { message className causes { message } } } } }
                     ... on PythonError { message }
                     ... on RunNotFoundError { message } } }""",
                {"runId": run_id, "cursor": cursor},
            )["logsForRun"]
            if data["__typename"] != "EventConnection":
                raise GraphQLError(f"logs of run {run_id}: {data['__typename']}: {data.get('message')}")
            events.extend(data["events"])
            if not data["hasMore"]:
                return events
            cursor = data["cursor"]

    def run_failure_text(self, run_id: str) -> str:
        """All messages and error messages of a run, joined: what a person reads in the UI's event log."""
        parts = []
        for ev in self.run_events(run_id):
            parts.append(ev.get("message") or "")
            err = ev.get("error")
            if err:
                parts.append(err.get("message") or "")
                parts.extend(c.get("message") or "" for c in err.get("causes") or [])
        return "\n".join(p for p in parts if p)

    def reexecute(self, run_id: str, strategy: str = "FROM_FAILURE") -> str:
        """The run page's "Re-execute from failure" (or ALL_STEPS); returns the new run's id."""
        data = self.query(
            """mutation Reexecute($params: ReexecutionParams!) { launchPipelineReexecution(reexecutionParams: $params) {
                 __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
                 ... on InvalidSubsetError { message } ... on RunConflict { message }
                 ... on UnauthorizedError { message } ... on RunConfigValidationInvalid { errors { message } } } }""",
            {"params": {"parentRunId": run_id, "strategy": strategy}},
        )["launchPipelineReexecution"]
        if data["__typename"] != "LaunchRunSuccess":
            raise GraphQLError(f"re-execution of {run_id}: {data}")
        return data["run"]["runId"]

    def terminate(self, run_id: str, force: bool = False) -> dict:
        """The run page's "Terminate"; force: "Force termination" (marked canceled at once, for a dead worker)."""
        return self.query(
            """mutation Terminate($runId: String!, $policy: TerminateRunPolicy) {
                 terminateRun(runId: $runId, terminatePolicy: $policy) { __typename
                   ... on TerminateRunFailure { message } ... on PythonError { message } } }""",
            {"runId": run_id, "policy": "MARK_AS_CANCELED_IMMEDIATELY" if force else "SAFE_TERMINATE"},
        )["terminateRun"]

    # -- code locations --------------------------------------------------------------------------------------
    def locations(self) -> dict[str, dict]:
        """Each code location: load status, and its load error message (None when it loaded)."""
        data = self.query(
            """{ workspaceOrError { __typename
                 ... on Workspace { locationEntries { name loadStatus locationOrLoadError {
                   __typename
                   ... on RepositoryLocation { name repositories { name } }
                   ... on PythonError { message className causes { message } } } } }
                 ... on PythonError { message } } }"""
        )["workspaceOrError"]
        if data["__typename"] != "Workspace":
            raise GraphQLError(f"workspace: {data['__typename']}: {data.get('message')}")
        out = {}
        for entry in data["locationEntries"]:
            loc = entry["locationOrLoadError"] or {}
            error = None
            if loc.get("__typename") == "PythonError":
                error = "\n".join([loc["message"], *(c["message"] for c in loc.get("causes") or [])])
            out[entry["name"]] = {"status": entry["loadStatus"], "error": error,
                                  "repositories": [r["name"] for r in loc.get("repositories") or []]}
        return out

    def wait_for_locations(self, timeout: float = 120.0) -> dict[str, dict]:
        """Wait until no code location is still LOADING; return `locations()`."""
        deadline = time.monotonic() + timeout
        while True:
            locs = self.locations()
            if locs and all(v["status"] == "LOADED" for v in locs.values()):
                return locs
            if time.monotonic() > deadline:
                raise TimeoutError(f"code locations still loading after {timeout:.0f}s: {locs}")
            time.sleep(0.5)

    def reload_location(self, name: str) -> dict:
        """Reload a code location (the UI's "Reload" button) and return its new `locations()` entry."""
        self.query(
            """mutation Reload($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
                 __typename ... on PythonError { message } } }""",
            {"name": name},
        )
        return self.wait_for_locations()[name]
