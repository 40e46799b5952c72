"""Approvals the way the UI makes them: GraphQL against a running webserver, runs launched by the daemon.

One combined test (each Terraform step costs 10-20 s against moto, starting the processes about 5 s): the change's
plans are made, then three prod deploys are launched at once for the same unit: one with a plan_id nobody reviewed
(refused, and the event log says why), two with the right one (one applies, the other finds it already applied).
The apply pool (limit 1) holds the others back, in the run queue or at the step, so the deploy steps never overlap.
Finally gitops.yaml is broken: the code location shows a load error naming the field, and the webserver keeps
answering.
"""

from __future__ import annotations

import urllib.request

import pytest

from gitops_pipelines_dev.infra import git
from gitops_pipelines_tests.e2e.conftest import LOCATION

pytestmark = pytest.mark.slow

UNIT, CHANGE = "storage", "pr-11"
DEPLOY_STEP = f"{UNIT}__prod_deploy"


def _launch(gql, head, job, stages, run_config=None):
    # a launch from the UI names the change's commits (without a github: section nothing else can tell them)
    return gql.launch(job, run_config=run_config, partition=CHANGE, asset_selection=[[UNIT, s] for s in stages],
                      tags={"dagster/user": "e2e-test", "gitops/head_sha": head, "gitops/merge_sha": head})


def _succeed(gql, run_id, what):
    info = gql.wait_for_run(run_id, timeout=600)
    assert info["status"] == "SUCCESS", f"{what}: {info['status']}\n{gql.run_failure_text(run_id)[-3000:]}"
    return info


def _step_window(info):
    (step,) = [s for s in info["stepStats"] if s["stepKey"] == DEPLOY_STEP]
    return step["startTime"], step["endTime"]


def test_prod_approval_through_the_webserver(dagster_stack, clouds, e2e_infra):
    head = git(e2e_infra, "rev-parse", "HEAD")  # the sample's one commit: PR head and merge commit alike
    gql = dagster_stack.graphql()
    locations = gql.wait_for_locations()
    assert locations[LOCATION]["error"] is None, locations[LOCATION]["error"]

    gql.add_partition("changes", CHANGE, location=LOCATION)
    # "Materialize selected" in the asset graph: one run of the implicit asset job, in dependency order
    # the PR stages first: the gate lets test_deploy apply only when they passed at the merged head
    plans = _launch(gql, head, "__ASSET_JOB", ["syntax", "ephemeral_test", "test_plan", "test_deploy", "prod_plan"])
    _succeed(gql, plans, "plans and test deploy")
    prod_plan = gql.latest_materialization([UNIT, "prod_plan"], CHANGE)
    plan_id = prod_plan["metadata"]["plan_id"]
    approval = {"approved_by": "alice", "reason": "CHG-1234", "plan_id": plan_id}
    release = _launch(gql, head, "release", ["release"], {"ops": {f"{UNIT}__release": {"config": approval}}})
    _succeed(gql, release, "release")

    # three prod deploys at once: a wrong plan_id, and the right one twice
    wrong = dict(approval, plan_id="0" * 64)
    runs = [_launch(gql, head, "prod_deploy", ["prod_deploy"], {"ops": {DEPLOY_STEP: {"config": config}}})
            for config in (approval, wrong, approval)]
    infos = [gql.wait_for_run(run_id, timeout=600) for run_id in runs]

    refused = infos[1]
    assert refused["status"] == "FAILURE"
    why = gql.run_failure_text(refused["runId"])
    assert "is not the stored prod plan" in why and plan_id in why, why[-3000:]

    for info in (infos[0], infos[2]):
        assert info["status"] == "SUCCESS", gql.run_failure_text(info["runId"])[-3000:]
    deploy = gql.latest_materialization([UNIT, "prod_deploy"], CHANGE)["metadata"]
    assert deploy["plan_id"] == plan_id and deploy["approved_by"] == "alice"
    buckets = {b["Name"] for b in clouds["prod"].boto3_client("s3").list_buckets()["Buckets"]}
    assert deploy["outputs"]["artifacts_bucket"] in buckets

    # the apply pool (limit 1) ran the deploy steps one after the other
    windows = sorted(_step_window(info) for info in infos)
    for (_, end), (start, _) in zip(windows, windows[1:]):
        assert start >= end, f"prod deploy steps overlapped: {windows}"
    applied_twice = [gql.run_failure_text(info["runId"]) for info in (infos[0], infos[2])]
    assert sum("already applied" in text for text in applied_twice) == 1, "exactly one deploy should apply"

    # a broken gitops.yaml: a load error naming the field; the webserver stays up
    config = e2e_infra / "gitops.yaml"
    config.write_text(config.read_text().replace("kind: project", "kind: projekt"))
    entry = gql.reload_location(LOCATION)
    assert entry["error"] is not None and "units[1].kind" in entry["error"] and "projekt" in entry["error"], entry
    assert urllib.request.urlopen(dagster_stack.url + "/server_info", timeout=10).status == 200
    assert gql.query("{ version }")["version"]
    assert dagster_stack.webserver.running and dagster_stack.daemon.running
