"""One change through the whole project flow on a real instance, real Terraform and moto; plus every refusal.

Terraform against moto costs 10-20 s per plan or apply, so one flow carries many assertions."""

from __future__ import annotations

import subprocess

import dagster as dg
import pytest

from gitops_pipelines.core.audit import audit_rows
from gitops_pipelines.core.config import load_config
from gitops_pipelines.defs.audit import deploy_events
from gitops_pipelines.defs.run_tags import change_tags
from gitops_pipelines_dev.infra import git
from gitops_pipelines_tests.dagster.conftest import failure_messages, latest_metadata

pytestmark = pytest.mark.slow


def _approval(op: str, plan_id: str, who: str = "alice") -> dict:
    return {"ops": {op: {"config": {"approved_by": who, "reason": "CHG-42 reviewed", "plan_id": plan_id}}}}


def _audit_sensor(defs: dg.Definitions, instance: dg.DagsterInstance, run_id: str):
    """What the audit_after_deploys sensor answers to the success of one run."""
    (success,) = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    context = dg.build_run_status_sensor_context(
        sensor_name="audit_after_deploys", dagster_event=success.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=instance.get_run_by_id(run_id))
    return defs.get_repository_def().get_sensor_def("audit_after_deploys")(context)


def test_project_flow_with_lineage_refusals_reruns_and_drift(gitops_defs, instance, infra_root, clouds, request):
    head = git(infra_root, "rev-parse", "HEAD")
    # the release tags the session's shared repository: removed again at the end
    request.addfinalizer(lambda: subprocess.run(["git", "tag", "-d", "storage/v0.1.0"], cwd=infra_root,
                                                capture_output=True))
    # the sample has one commit: it is both the PR head and, for the merge-time stages, the merge commit
    tags = change_tags(head_sha=head, merge_sha=head, triggered_by="merge of PR #1 by bob")
    instance.add_dynamic_partitions("changes", ["pr-1", "pr-2", "pr-3"])

    def run(job: str, keys: list[str], partition: str | None, run_config=None):
        return gitops_defs.resolve_job_def(job).execute_in_process(
            instance=instance, partition_key=partition, run_config=run_config, tags=tags, raise_on_error=False,
            asset_selection=[dg.AssetKey(k.split("/")) for k in keys])

    # A deploy for a change that has no stored plan says to run the plan first (no Terraform runs).
    nothing = run("prod_deploy", ["storage/prod_deploy"], "pr-3", _approval("storage__prod_deploy", "0" * 64))
    assert not nothing.success
    assert "run the plan first" in failure_messages(nothing) and "storage/prod_plan" in failure_messages(nothing)

    # PR time: the stored test plan is a materialization with plan_id, counts, commit, Terraform version, plan text.
    assert run("pr_checks", ["storage/test_plan"], "pr-1").success
    test_plan = latest_metadata(instance, "storage/test_plan", "pr-1")
    assert len(test_plan["plan_id"]) == 64 and test_plan["add"] > 0 and test_plan["head_sha"] == head
    assert test_plan["terraform_version"] and test_plan["policy"] == "passed"
    assert "aws_s3_bucket" in test_plan["plan"] and "tok-9f3b2c71" not in test_plan["plan"]
    logs = [e.user_message for e in instance.all_logs(instance.get_runs(limit=1)[0].run_id)]
    assert any("$ terraform plan" in line for line in logs), "Terraform lines are streamed to the run log"

    # The gate: syntax and the ephemeral test have not run at the merged head, so the merge deploys nothing.
    gated = run("merge", ["storage/test_deploy"], "pr-1")
    assert not gated.success
    why = failure_messages(gated)
    assert "storage/test: pr-1 may not be applied at the merged head" in why
    assert "syntax has not run for pr-1" in why and "ephemeral_test has not run for pr-1" in why
    assert "test_plan has not run" not in why and "policy" not in why  # those passed at this head
    assert run("pr_checks", ["storage/syntax", "storage/ephemeral_test"], "pr-1").success

    # A second change's prod plan, made against the still empty prod state: release refuses it while its test
    # deploy has not happened, and once pr-1 reaches prod it is stale.
    assert run("merge", ["storage/prod_plan"], "pr-2").success
    pr2_prod = latest_metadata(instance, "storage/prod_plan", "pr-2")["plan_id"]
    no_test = run("release", ["storage/release"], "pr-2", _approval("storage__release", pr2_prod))
    assert not no_test.success and "test_deploy has not succeeded for pr-2" in failure_messages(no_test)

    # Merge: test_deploy applies exactly the stored test plan, then the prod plan is made.
    assert run("merge", ["storage/test_deploy", "storage/prod_plan"], "pr-1").success
    test_deploy = latest_metadata(instance, "storage/test_deploy", "pr-1")
    assert test_deploy["plan_id"] == test_plan["plan_id"] and test_deploy["plan_asset"] == "storage/test_plan"
    assert test_deploy["triggered_by"] == "merge of PR #1 by bob" and test_deploy["state_serial"] > 0
    assert test_deploy["already_applied"] is False

    # Re-executing the succeeded deploy does nothing and says so.
    again = run("merge", ["storage/test_deploy"], "pr-1")
    assert again.success
    rerun = latest_metadata(instance, "storage/test_deploy", "pr-1")
    assert rerun["already_applied"] is True and "already applied; nothing done" in rerun["result"]
    assert rerun["state_serial"] == test_deploy["state_serial"]

    # Release: the wrong plan_id is refused naming the stored plan; the right one records the decision.
    prod_plan = latest_metadata(instance, "storage/prod_plan", "pr-1")
    wrong = run("release", ["storage/release"], "pr-1", _approval("storage__release", "f" * 64))
    assert not wrong.success and prod_plan["plan_id"] in failure_messages(wrong)
    release_run = run("release", ["storage/release"], "pr-1", _approval("storage__release", prod_plan["plan_id"]))
    assert release_run.success
    release = latest_metadata(instance, "storage/release", "pr-1")
    assert release["decision"] == "approved" and release["approved_by"] == "alice"
    assert release["plan_id"] == prod_plan["plan_id"] and release["reason"] == "CHG-42 reviewed"
    # without GitHub the release is an annotated tag of the project's first version on the merged commit
    assert release["tag"] == "storage/v0.1.0" and git(infra_root, "cat-file", "-t", "storage/v0.1.0") == "tag"
    assert git(infra_root, "rev-list", "-n1", "storage/v0.1.0") == head

    # Production deploy: a wrong plan_id names the expected plan; the right one applies exactly the prod plan.
    wrong = run("prod_deploy", ["storage/prod_deploy"], "pr-1", _approval("storage__prod_deploy", pr2_prod))
    assert not wrong.success and f"the stored plan is {prod_plan['plan_id']}" in failure_messages(wrong)
    deployed = run("prod_deploy", ["storage/prod_deploy"], "pr-1",
                   _approval("storage__prod_deploy", prod_plan["plan_id"], who="carol"))
    assert deployed.success
    # the audit table refreshes itself after a run that deployed; a run that deployed nothing asks for nothing
    assert _audit_sensor(gitops_defs, instance, deployed.run_id).run_key == f"audit-after-{deployed.run_id}"
    assert isinstance(_audit_sensor(gitops_defs, instance, release_run.run_id), dg.SkipReason)
    prod_deploy = latest_metadata(instance, "storage/prod_deploy", "pr-1")
    assert prod_deploy["plan_id"] == prod_plan["plan_id"] and prod_deploy["plan_asset"] == "storage/prod_plan"
    assert prod_deploy["approved_by"] == "carol" and prod_deploy["decision"] == "approved"
    assert prod_deploy["state_serial"] > 0

    # pr-2's prod plan was made before pr-1 changed the prod state: stale, re-plan.
    stale = run("prod_deploy", ["storage/prod_deploy"], "pr-2", _approval("storage__prod_deploy", pr2_prod))
    assert not stale.success
    assert "is stale" in failure_messages(stale) and "Re-plan" in failure_messages(stale)

    buckets = {env: {b["Name"] for b in clouds[env].boto3_client("s3").list_buckets()["Buckets"]}
               for env in ("test", "prod")}
    assert "acme-test-artifacts" in buckets["test"] and "acme-prod-artifacts" not in buckets["test"]
    assert "acme-prod-artifacts" in buckets["prod"] and "acme-test-artifacts" not in buckets["prod"]

    # The audit trail on SQLite: the test and prod applies of pr-1, with its plans and who released it.
    events, releases = deploy_events(instance, load_config(infra_root / "gitops.yaml"))
    audited = {(r.environment, r.change): r for r in audit_rows(events, releases)}
    assert audited[("prod", "pr-1")].plan_id == prod_plan["plan_id"]
    assert audited[("prod", "pr-1")].released_by == "alice" and audited[("prod", "pr-1")].release == "storage/v0.1.0"
    assert ("test", "pr-1") in audited and ("prod", "pr-2") not in audited  # pr-2's stale plan was never applied

    # Drift: a change made outside Terraform in test fails test's check; prod stays clean (the drift issue on
    # GitHub: test_drift_issues.py).
    clouds["test"].boto3_client("s3").put_bucket_tagging(
        Bucket="acme-test-artifacts", Tagging={"TagSet": [{"Key": "team", "Value": "changed-by-hand"}]})
    drift = gitops_defs.resolve_job_def("drift").execute_in_process(instance=instance, raise_on_error=False)
    assert drift.success
    checks = {e.check_name: e for e in drift.get_asset_check_evaluations()}
    assert checks["no_drift_test"].passed is False
    assert "module.artifacts.aws_s3_bucket.this" in checks["no_drift_test"].metadata["drifted"].value
    assert checks["no_drift_prod"].passed is True
