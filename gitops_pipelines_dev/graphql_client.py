"""A small GraphQL client to drive the Dagster webserver as the UI does: launches through the official
DagsterGraphQLClient, and the queries and mutations it does not cover (runs, events, materializations, partitions,
re-execution, termination)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any, Mapping

TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


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
        location: str | None = None,
    ) -> str:
        """Launch a job as the launchpad does; a partition goes in the `dagster/partition` tag. Returns the run id.
        location: the code location, where several define the job (one per repository)."""
        all_tags = dict(tags or {})
        if partition is not None:
            all_tags["dagster/partition"] = partition
        where = {"repository_location_name": location, "repository_name": "__repository__"} if location else {}
        return self.client.submit_job_execution(
            job_name, run_config=dict(run_config or {}), tags=all_tags or None, asset_selection=asset_selection,
            **where,
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
