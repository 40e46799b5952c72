"""Failure drills with real processes (issue #11): dagster-daemon killed in the middle of a test apply and started
again, the test environment's cloud gone during an apply, PostgreSQL restarted under a running instance. Each drill
asserts what a person sees (run status, the step's message, the cloud) and that nothing is lost or applied twice.

The daemon drill runs once (module fixture `killed_apply`: plans, the merge run killed while `terraform apply` holds
the state lock, the daemon started again) and two tests read it: the restarted daemon marks the dead run failed
(the run launcher tells run monitoring its worker is gone), and a re-execution applies the stored plan once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gitops_pipelines.core import stages
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.errors import StageFailed
from gitops_pipelines.core.plan_store import open_plan_store
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines_dev.dagster_procs import DagsterGraphQL, DagsterProcesses, command_line, group_members
from gitops_pipelines_dev.instance import SQLITE_YAML, install_instance_config
from gitops_pipelines_dev.moto import MotoServer
from gitops_pipelines_dev.postgres import PostgresServer
from gitops_pipelines_tests.conftest import reset_clouds
from gitops_pipelines_tests.e2e.conftest import LOCATION, running_stack
from gitops_pipelines_tests.e2e.drill_support import (
    STATE_BUCKET, UNIT, buckets, daemon_health, install_monitored_instance, launch, load_pages,
    sensor_ticks, state, state_lock, until_it_answers, wait_for,
)
from gitops_pipelines_tests.fixtures.infra_repo import git, make_infra_repo

pytestmark = pytest.mark.slow

CHANGE = "pr-1"
BUCKET = "acme-test-artifacts"
PR_STAGES = ["syntax", "ephemeral_test", "test_plan"]  # what the gate asks to have passed before test_deploy


def _succeeded(gql: DagsterGraphQL, run_id: str, what: str) -> dict:
    info = gql.wait_for_run(run_id, timeout=600)
    assert info["status"] == "SUCCESS", f"{what}: {info['status']}\n{gql.run_failure_text(run_id)[-3000:]}"
    return info


# -- dagster-daemon killed during a test apply ------------------------------------------------------------------
@dataclass
class KilledApply:
    stack: DagsterProcesses
    gql: DagsterGraphQL
    head: str
    plan_id: str
    merge_run: str
    lock: dict  # the state lock the killed `terraform apply` held
    killed: dict[int, list[str]]  # pid -> argv of every process in the daemon's group when it was killed
    status_after_restart: str  # the merge run's status once the restarted daemon had five monitoring polls


@pytest.fixture(scope="module")
def killed_apply(moto_servers, cloud_env, tmp_path_factory):
    """The PR stages pass, the merge job starts the test deploy, and while `terraform apply` holds the state lock
    the daemon's whole process group (its code server, the run worker and Terraform) is SIGKILLed; the daemon is
    started again. Nothing is repaired here: the tests do what a person would."""
    clouds = reset_clouds(moto_servers)
    root = tmp_path_factory.mktemp("killed-apply")
    infra = make_infra_repo(root / "infra")
    home = install_monitored_instance(root / "dagster_home")
    with running_stack(infra, home, cloud_env, root / "logs") as stack:
        gql = stack.graphql()
        assert gql.wait_for_locations()[LOCATION]["error"] is None
        head = git(infra, "rev-parse", "HEAD")
        gql.add_partition("changes", CHANGE, location=LOCATION)
        _succeeded(gql, launch(gql, head, "__ASSET_JOB", PR_STAGES, CHANGE), "the PR stages")
        plan_id = gql.latest_materialization([UNIT, "test_plan"], CHANGE)["metadata"]["plan_id"]

        merge_run = launch(gql, head, "merge", None, CHANGE)
        lock = wait_for("terraform apply to take the test state lock", lambda: state_lock(clouds["test"]), 300,
                        stack, poll=0.1)
        killed = {pid: command_line(pid) for pid in group_members(stack.daemon.proc.pid)}
        stack.kill_daemon()
        stack.start_daemon()
        deadline = time.monotonic() + 30  # run monitoring polls every 2 s here (install_monitored_instance)
        while gql.run(merge_run)["status"] == "STARTED" and time.monotonic() < deadline:
            time.sleep(1)
        status = gql.run(merge_run)["status"]
        yield KilledApply(stack, gql, head, plan_id, merge_run, lock, killed, status)


def test_the_restarted_daemon_marks_the_killed_run_failed(killed_apply):
    """Run monitoring asks the run launcher (gitops_pipelines/run_launcher.py) whether the worker lives: it does
    not, so the run is failed with why, instead of staying "in progress" with nothing running it."""
    assert killed_apply.status_after_restart == "FAILURE"
    why = killed_apply.gql.run_failure_text(killed_apply.merge_run)
    assert "ended without ending the run" in why and "Re-execute the run from failure" in why, why


def test_after_the_daemon_is_killed_mid_apply_a_re_execution_applies_the_stored_plan_once(killed_apply, moto_servers):
    k = killed_apply
    gql, test_cloud = k.gql, moto_servers["test"]  # not `clouds`: that would reset what the kill left
    # the kill took Terraform with it: it was in the daemon's group, and is gone
    applies = [pid for pid, argv in k.killed.items() if argv[:2] and argv[0].endswith("terraform")
               and argv[1] == "apply"]
    assert applies and not [pid for pid in k.killed if command_line(pid)], k.killed
    assert state_lock(test_cloud) == k.lock, "the dead apply's lock is left behind"
    assert k.stack.daemon.running and k.stack.webserver.running

    # what a person sees: a run still "in progress" that no process runs; the run page's Force termination marks it
    # canceled (not needed once the daemon marks such a run failed by itself)
    if k.status_after_restart == "STARTED":
        gql.terminate(k.merge_run, force=True)
    dead = wait_for("the killed run to end", lambda: (
        lambda info: info if info["status"] in ("FAILURE", "CANCELED") else None)(gql.run(k.merge_run)), 60)
    assert {s["stepKey"]: s["status"] for s in dead["stepStats"]}.get(f"{UNIT}__test_deploy") != "SUCCESS"
    assert gql.latest_materialization([UNIT, "test_deploy"], CHANGE) is None
    # the dead run held the apply pool's one slot: the project's dagster.yaml has the daemon free the slots of
    # ended runs, or the re-execution would wait in the queue forever
    monitoring = yaml.safe_load(SQLITE_YAML.read_text())["run_monitoring"]
    assert monitoring["enabled"] and monitoring["free_slots_after_run_end_seconds"] > 0

    # re-executed from failure: refused at once, naming the unit, the environment, the lock and how to release it
    first = gql.reexecute(k.merge_run)
    assert gql.wait_for_run(first, timeout=600)["status"] == "FAILURE"
    why = gql.run_failure_text(first)
    lock_id = k.lock["ID"]
    assert f"{UNIT}/test: terraform apply: the state is locked by another run (lock ID {lock_id}" in why, why[-3000:]
    assert f"terraform force-unlock -force {lock_id}" in why and "If the run that took the lock died" in why
    assert state_lock(test_cloud) == k.lock, "a refused apply leaves the lock alone"

    # the person releases it exactly as the message says (with the test environment's deploy credentials)
    unlock = re.search(r"`(TF_DATA_DIR=(\S+) (terraform force-unlock -force \S+))` in (\S+?)[,.]? ", why)
    assert unlock, why[-3000:]
    subprocess.run(unlock.group(3).split(), cwd=unlock.group(4), check=True, capture_output=True, text=True,
                   env={**_environ(), **test_cloud.aws_env(), "TF_DATA_DIR": unlock.group(2)}, timeout=120)
    assert state_lock(test_cloud) is None

    # re-executed again: the stored plan applies, the prod plan follows
    second = gql.reexecute(first)
    _succeeded(gql, second, "the re-execution after the unlock")
    deploy = gql.latest_materialization([UNIT, "test_deploy"], CHANGE)
    assert deploy["run_id"] == second and deploy["metadata"]["plan_id"] == k.plan_id
    assert gql.latest_materialization([UNIT, "prod_plan"], CHANGE) is not None
    # the cloud holds each resource once, and so does the state
    assert buckets(test_cloud).count(BUCKET) == 1
    addresses = [f"{r.get('module', '')}.{r['type']}.{r['name']}" for r in state(test_cloud)["resources"]]
    assert len(addresses) == len(set(addresses)) and "module.artifacts.aws_s3_bucket.this" in addresses, addresses
    serial = state(test_cloud)["serial"]

    # and the stored plan is never applied twice: the merge job once more finds its work done
    again = launch(gql, k.head, "merge", None, CHANGE)
    _succeeded(gql, again, "the merge job once more")
    assert f"plan {k.plan_id[:12]} was already applied; nothing done" in gql.run_failure_text(again)
    assert state(test_cloud)["serial"] == serial and buckets(test_cloud).count(BUCKET) == 1


def _environ() -> dict[str, str]:
    return {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}


# -- the test environment's cloud gone during an apply ----------------------------------------------------------
@pytest.fixture
def own_test_cloud(tmp_path, cloud_env, monkeypatch):
    """A moto server of this test's own as the test environment (the session's servers stay up for others)."""
    cloud = MotoServer("drill-test", log_dir=tmp_path).start()
    cloud.create_bucket(STATE_BUCKET)
    monkeypatch.setenv("TEST_AWS_ENDPOINT", cloud.url)
    try:
        yield cloud
    finally:
        cloud.stop()


def test_the_test_cloud_gone_during_an_apply_fails_saying_what_to_recover(own_test_cloud, tmp_path):
    """The apply as the merge job's step calls it: the step's failure message is this error's text."""
    infra = make_infra_repo(tmp_path / "infra")
    # the backend retries once, not five times with back-off, and the AWS provider twice instead of 25 times
    # (AWS_MAX_ATTEMPTS): on a loaded runner its back-off alone outlasted the drill's five minutes
    config = infra / "gitops.yaml"
    config.write_text(config.read_text().replace("    backend_config: &backend\n",
                                                 "    backend_config: &backend\n      max_retries: 1\n").replace(
        '      AWS_ENDPOINT_URL: "${TEST_AWS_ENDPOINT}"\n',
        '      AWS_ENDPOINT_URL: "${TEST_AWS_ENDPOINT}"\n      AWS_MAX_ATTEMPTS: "2"\n', 1))
    ws = Workspace(load_config(config), log=lambda line: None)
    ws._store = open_plan_store(str(tmp_path / "plans"), infra, key=b"p" * 32)
    plan_id = stages.plan(ws, ws.config.unit(UNIT), "test", "pr-3").record.plan_id
    failed: list[BaseException] = []

    def deploy() -> None:
        try:
            stages.apply(ws, plan_id, environment="test", change="pr-3")
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    worker = threading.Thread(target=deploy, name="apply")
    worker.start()
    # gone once Terraform has created the bucket: the rest of the apply, the state write and the unlock all fail
    wait_for("terraform apply to create the bucket", lambda: BUCKET in buckets(own_test_cloud), 180)
    own_test_cloud.stop()
    worker.join(300)
    assert not worker.is_alive(), "the apply is still waiting on the cloud"

    [error] = failed
    assert isinstance(error, StageFailed) and (error.unit, error.environment) == (UNIT, "test"), repr(error)
    message = str(error)
    assert message.startswith(f"{UNIT}/test: terraform apply: the cloud API or state backend could not be reached")
    assert own_test_cloud.url.removeprefix("http://") in error.output, "Terraform's diagnostics name the endpoint"
    # the lock could not be released: the message says so and how to release it
    assert "The state lock could not be released and may still be held" in message
    assert "terraform force-unlock -force <lock ID>" in message
    # nothing lost: the state Terraform could not write is where the message says, with the bucket it created
    errored = re.search(r"saved it as (\S+errored\.tfstate): ", message)
    assert errored and "terraform state push errored.tfstate" in message, message
    saved = json.loads(Path(errored.group(1)).read_text())
    assert any(r["type"] == "aws_s3_bucket" for r in saved["resources"]), saved["resources"]
    assert ws.store.applied(plan_id) is None, "a failed apply is not recorded as applied"


# -- PostgreSQL restarted under a running instance --------------------------------------------------------------
@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own (the session's stays up for the other tests)."""
    server = PostgresServer(db_name="drill").start()
    try:
        yield server
    finally:
        server.stop()


def test_postgres_restarted_under_a_running_instance_loses_nothing(own_postgres, e2e_infra, cloud_env, tmp_path):
    home = tmp_path / "dagster_home"
    pg_env = own_postgres.env()
    pg_env.update(install_instance_config(home, pg_env))
    with running_stack(e2e_infra, home, cloud_env, tmp_path / "logs", extra_env=pg_env) as stack:
        gql = stack.graphql()
        assert gql.wait_for_locations()[LOCATION]["error"] is None
        head = git(e2e_infra, "rev-parse", "HEAD")
        gql.add_partition("changes", "pr-5", location=LOCATION)
        before = _succeeded(gql, launch(gql, head, "__ASSET_JOB", ["syntax"], "pr-5"), "syntax before the restart")
        recorded = gql.latest_materialization([UNIT, "syntax"], "pr-5")
        assert recorded["run_id"] == before["runId"]

        own_postgres.restart(down_for=3)

        # the webserver keeps pooled connections (dagster-postgres, no pre-ping): a page or a launch that meets a
        # dead one shows the disconnect; reloading (launching again) works
        _, shown = until_it_answers(lambda: load_pages(gql, [UNIT, "syntax"], "audit_after_deploys"))
        _, added = until_it_answers(lambda: gql.add_partition("changes", "pr-6", location=LOCATION))
        after_id, launched = until_it_answers(lambda: launch(gql, head, "__ASSET_JOB", ["syntax"], "pr-6"))
        shown += added + launched
        assert len(shown) <= 6 and all(_disconnected(e) for e in shown), shown

        # the daemon is still running and healthy, and it runs the queued run
        after = _succeeded(gql, after_id, "syntax after the restart")
        stack.check_alive()
        health = daemon_health(gql)
        assert {d["daemonType"] for d in health} >= {"SENSOR", "QUEUED_RUN_COORDINATOR"}
        assert all(d["healthy"] for d in health), health
        # a sensor reads what was recorded after the restart: the run-status sensor saw the new run
        wait_for("audit_after_deploys to tick on the run made after the restart", lambda: any(
            after["runId"][:8] in (t.get("skipReason") or "") for t in sensor_ticks(gql, "audit_after_deploys")),
            120, stack, poll=2)

        # nothing recorded before is lost: the run, its materialization, the partition (and what came after is kept)
        assert gql.run(before["runId"])["status"] == "SUCCESS"
        assert {"pr-5", "pr-6"} <= {key for (key,) in own_postgres.query("SELECT partition FROM dynamic_partitions")}
        assert gql.latest_materialization([UNIT, "syntax"], "pr-5") == recorded
        assert gql.latest_materialization([UNIT, "syntax"], "pr-6")["run_id"] == after["runId"]
        # and a launch that showed the disconnect made no run: one run per launch that answered
        runs = own_postgres.query("SELECT run_id, status FROM runs WHERE pipeline_name = '__ASSET_JOB' "
                                  "ORDER BY create_timestamp")
        assert runs == [(before["runId"], "SUCCESS"), (after["runId"], "SUCCESS")], runs


def _disconnected(error: str) -> bool:
    return any(sign in error for sign in ("server closed the connection unexpectedly", "terminating connection",
                                          "connection to server", "Connection refused"))
