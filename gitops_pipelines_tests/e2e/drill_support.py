"""What the process drills share: launching as the UI does, waiting with a reason, reading the test cloud the way a
person with the AWS console would (buckets, the Terraform state and its lock object), and the UI's pages that show
the daemons and sensor ticks."""

from __future__ import annotations

import json
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from gitops_pipelines_dev.dagster_procs import DagsterGraphQL, DagsterProcesses, GraphQLError
from gitops_pipelines_dev.instance import SQLITE_YAML
from gitops_pipelines_dev.moto import MotoServer

UNIT = "storage"
STATE_BUCKET = "tfstate-test"
STATE_KEY = f"{UNIT}/terraform.tfstate"  # Workspace.backend_config: <unit>/terraform.tfstate
LOCK_KEY = STATE_KEY + ".tflock"  # the S3 backend's lock object (use_lockfile = true)
T = TypeVar("T")


def launch(gql: DagsterGraphQL, head: str, job: str, stages: list[str] | None, change: str = "pr-1",
           run_config: dict | None = None) -> str:
    """A launch from the UI for one change; it names the change's commits (the sample has no github: section)."""
    selection = [[UNIT, s] for s in stages] if stages else None
    return gql.launch(job, run_config=run_config, partition=change, asset_selection=selection,
                      tags={"dagster/user": "e2e-drill", "gitops/head_sha": head, "gitops/merge_sha": head})


def wait_for(what: str, probe: Callable[[], object], timeout: float = 300, stack: DagsterProcesses | None = None,
             poll: float = 0.2):
    """Poll probe until it returns something truthy; fail saying what never happened (with the daemon's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(poll)
    log = stack.daemon.log_tail(6000) if stack is not None and stack.daemon else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n--- daemon log ---\n{log}")


def buckets(cloud: MotoServer) -> list[str]:
    """Every bucket name, as listed (a name twice would be a broken cloud)."""
    return [b["Name"] for b in cloud.boto3_client("s3").list_buckets()["Buckets"]]


def state_lock(cloud: MotoServer) -> dict | None:
    """The lock Terraform holds on the unit's test state (its ID, Operation, Who, ...), None when unlocked."""
    s3 = cloud.boto3_client("s3")
    try:
        return json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=LOCK_KEY)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def state(cloud: MotoServer) -> dict:
    """The unit's test state as the backend stores it."""
    body = cloud.boto3_client("s3").get_object(Bucket=STATE_BUCKET, Key=STATE_KEY)["Body"].read()
    return json.loads(body)


def install_monitored_instance(home: Path) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml, its run monitoring polled every 2 s (not every 120 s) and
    the pool slots of ended runs freed after 5 s (not 30 s), so a drill waits seconds for what the daemon does."""
    home.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(SQLITE_YAML.read_text())
    config["run_monitoring"] = {**config.get("run_monitoring", {}), "poll_interval_seconds": 2,
                                "free_slots_after_run_end_seconds": 5}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


def daemon_health(gql: DagsterGraphQL) -> list[dict]:
    """The required daemons as the UI's Deployment > Daemons page lists them: type, healthy, last heartbeat."""
    statuses = gql.query("""{ instance { daemonHealth { allDaemonStatuses {
                               daemonType required healthy lastHeartbeatTime } } } }""")
    return [d for d in statuses["instance"]["daemonHealth"]["allDaemonStatuses"] if d["required"]]


def sensor_ticks(gql: DagsterGraphQL, sensor: str, location: str = "gitops_pipelines") -> list[dict]:
    """A sensor's latest ticks, newest first: status, timestamp, skip reason, runs requested."""
    data = gql.query(
        """query Ticks($sel: SensorSelector!) { sensorOrError(sensorSelector: $sel) { __typename
             ... on Sensor { sensorState { ticks(limit: 20) { status timestamp skipReason runIds } } } } }""",
        {"sel": {"repositoryLocationName": location, "repositoryName": "__repository__", "sensorName": sensor}},
    )["sensorOrError"]
    return data["sensorState"]["ticks"] if data["__typename"] == "Sensor" else []


# one read of each storage (runs, events, schedules and sensors) as the UI's pages make them
_EVERY_STORAGE = """query Pages($asset: AssetKeyInput!, $sensor: SensorSelector!) {
  runsOrError(limit: 1) { __typename ... on PythonError { message } }
  assetOrError(assetKey: $asset) { __typename
    ... on Asset { assetMaterializations(limit: 1) { runId } } }
  sensorOrError(sensorSelector: $sensor) { __typename ... on PythonError { message }
    ... on Sensor { sensorState { ticks(limit: 1) { status } } } } }"""


def load_pages(gql: DagsterGraphQL, asset: list[str], sensor: str, location: str = "gitops_pipelines") -> None:
    """One read of each storage, as the UI's pages make them; raises GraphQLError with what a page would show."""
    data = gql.query(_EVERY_STORAGE, {"asset": {"path": asset}, "sensor": {
        "repositoryLocationName": location, "repositoryName": "__repository__", "sensorName": sensor}})
    failed = [field["message"] for field in data.values() if field["__typename"] == "PythonError"]
    if failed:
        raise GraphQLError("\n".join(failed))


def until_it_answers(call: Callable[[], T], attempts: int = 10) -> tuple[T, list[str]]:
    """Call as a person presses reload (or Launch again) until it answers; returns the answer and every error
    shown on the way. Fails if it never answers."""
    from dagster_graphql import DagsterGraphQLClientError

    shown: list[str] = []
    for _ in range(attempts):
        try:
            return call(), shown
        except urllib.error.HTTPError as exc:  # the webserver answering 500, the error in the body
            shown.append(f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:3000]}")
        except (GraphQLError, DagsterGraphQLClientError) as exc:
            shown.append(str(exc))
        time.sleep(1)
    pytest.fail(f"still failing after {attempts} attempts:\n" + "\n".join(shown[-3:]))
