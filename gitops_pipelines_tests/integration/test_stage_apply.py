"""apply(plan_id) on real Terraform against moto: applies exactly a stored plan, refuses anything doubtful.

One race sets the scene for the whole module: two plans made from the same (empty) state are applied at the same
time. One must complete, the other must be stopped by Terraform's S3 lock (or, if it came second, by staleness).
"""

from __future__ import annotations

import json
import threading

import pytest

from gitops_pipelines.core import stages
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.errors import (
    LockHeld, PlanBindingMismatch, PlanStale, PlanTampered, StageFailed,
)
from gitops_pipelines.core.plan_store import open_plan_store
from gitops_pipelines.core.stages import ApplyResult
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines_dev.ports import free_port
from gitops_pipelines_tests.conftest import reset_clouds

pytestmark = pytest.mark.slow

STATE_KEY = "storage/terraform.tfstate"


def _state_serial(moto_servers) -> int:
    body = moto_servers["test"].boto3_client("s3").get_object(Bucket="tfstate-test", Key=STATE_KEY)["Body"]
    return json.loads(body.read())["serial"]


@pytest.fixture(scope="module")
def race(infra_root, moto_servers, tmp_path_factory):
    reset_clouds(moto_servers)
    store_dir = tmp_path_factory.mktemp("plans")

    def workspace(environ=None) -> Workspace:
        ws = Workspace(load_config(infra_root / "gitops.yaml", environ=environ), log=lambda line: None)
        ws._store = open_plan_store(str(store_dir), infra_root, key=b"a" * 32)
        return ws

    ws = workspace()
    unit = ws.config.unit("storage")
    first = stages.plan(ws, unit, "test", "pr-1").plan_id
    second = stages.plan(ws, unit, "test", "pr-2").plan_id
    assert first != second

    outcomes: dict[str, object] = {}
    start = threading.Barrier(2)

    def apply(plan_id: str) -> None:
        own = workspace()  # a separate runner per "process", like two CI jobs
        start.wait()
        try:
            outcomes[plan_id] = stages.apply(own, plan_id)
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever came out
            outcomes[plan_id] = exc

    threads = [threading.Thread(target=apply, args=(pid,)) for pid in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    winners = [pid for pid, out in outcomes.items() if isinstance(out, ApplyResult)]
    assert len(winners) == 1, outcomes
    winner = winners[0]
    loser = second if winner == first else first
    return {"ws": ws, "workspace": workspace, "store_dir": store_dir, "winner": winner, "loser": loser,
            "outcomes": outcomes}


def test_the_first_apply_completes_and_the_resources_exist(race, moto_servers):
    result = race["outcomes"][race["winner"]]
    assert not result.already_applied
    assert result.outputs == {"artifacts_bucket": "acme-test-artifacts", "api_token_parameter": "/acme-test/api-token"}
    assert result.state_serial == _state_serial(moto_servers)
    s3 = moto_servers["test"].boto3_client("s3")
    assert "acme-test-artifacts" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert s3.get_bucket_versioning(Bucket="acme-test-artifacts")["Status"] == "Enabled"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="acme-test-artifacts")["TagSet"]}
    assert tags == {"environment": "test", "team": "platform", "managed_by": "gitops-pipelines"}
    ssm = moto_servers["test"].boto3_client("ssm")
    assert [p["Name"] for p in ssm.describe_parameters()["Parameters"]] == ["/acme-test/api-token"]
    assert race["ws"].store.applied(race["winner"]).state_serial == result.state_serial
    # the other environment is untouched
    assert {b["Name"] for b in moto_servers["prod"].boto3_client("s3").list_buckets()["Buckets"]} == {"tfstate-prod"}


def test_the_concurrent_apply_reports_the_lock(race):
    error = race["outcomes"][race["loser"]]
    assert isinstance(error, (LockHeld, PlanStale)), repr(error)
    if isinstance(error, LockHeld):
        assert "locked by another run" in str(error)
    assert race["ws"].store.applied(race["loser"]) is None


def test_rerun_says_already_applied(race):
    again = stages.apply(race["ws"], race["winner"])
    assert again.already_applied
    assert again.state_serial == race["outcomes"][race["winner"]].state_serial
    assert "already applied" in again.summary()


def test_stale_plan_is_refused_and_says_to_plan_again(race, moto_servers):
    serial = _state_serial(moto_servers)
    with pytest.raises(PlanStale) as caught:
        stages.apply(race["ws"], race["loser"])
    assert "stale" in str(caught.value) and "make a new plan" in str(caught.value)
    assert caught.value.exit_code == 3
    assert _state_serial(moto_servers) == serial
    assert race["ws"].store.applied(race["loser"]) is None


def test_plan_for_another_environment_is_refused(race, moto_servers):
    with pytest.raises(PlanBindingMismatch) as caught:
        stages.apply(race["ws"], race["winner"], environment="prod")
    assert "'test'" in str(caught.value) and "'prod'" in str(caught.value)
    assert caught.value.exit_code == 3
    assert {b["Name"] for b in moto_servers["prod"].boto3_client("s3").list_buckets()["Buckets"]} == {"tfstate-prod"}


def test_unreachable_cloud_is_named_in_the_error(race):
    dead = f"http://127.0.0.1:{free_port()}"
    ws = race["ws"]
    test_env = ws.config.environment("test")
    unreachable = test_env.model_copy(update={
        "env": {**test_env.env, "AWS_ENDPOINT_URL": dead},
        "backend_config": {**test_env.backend_config, "max_retries": 1},  # fail in a second, not after 5 retries
    })
    config = ws.config.model_copy(update={
        "environments": [unreachable if e.name == "test" else e for e in ws.config.environments]})
    offline = Workspace(config, log=lambda line: None)
    offline._store = ws.store
    with pytest.raises(StageFailed) as caught:
        stages.apply(offline, race["loser"])
    assert "could not be reached" in str(caught.value)
    assert "connection refused" in str(caught.value)
    assert ws.store.applied(race["loser"]) is None  # nothing lost: the plan can still be applied later


def test_tampered_plan_is_refused_before_terraform_runs(race, moto_servers):
    serial = _state_serial(moto_servers)
    sealed = race["store_dir"] / race["loser"] / "plan.bin.enc"
    data = bytearray(sealed.read_bytes())
    data[len(data) // 2] ^= 0x01
    sealed.write_bytes(bytes(data))
    lines: list[str] = []
    ws = race["workspace"]()
    ws.runner.log = lines.append
    with pytest.raises(PlanTampered) as caught:
        stages.apply(ws, race["loser"])
    assert "plan.bin.enc" in str(caught.value)
    assert caught.value.exit_code == 3
    assert not [line for line in lines if line.startswith("$ terraform")]  # not even init ran
    assert _state_serial(moto_servers) == serial
