"""Drift is told on GitHub: the drift asset on a real instance, real Terraform against moto, the GitHub emulator.
A bucket tagged by hand opens one issue with the changed attribute; once it is as Terraform left it, the next
drift check closes the issue with a comment. The plan that would undo the drift is stored for review, its plan_id in
the drift report; the test environment's own schedule job plans only test."""

from __future__ import annotations

import pytest

from gitops_pipelines.core import stages
from gitops_pipelines.core.workspace import open_workspace
from gitops_pipelines_tests.dagster.conftest import PLAN_KEY, latest_metadata

pytestmark = pytest.mark.slow

BUCKET = "acme-test-artifacts"


def test_drift_opens_an_issue_and_closes_it_when_it_is_gone(github_env, instance, clouds, tmp_path):
    emu, checkout, defs, _, _ = github_env
    ws = open_workspace(checkout / "gitops.yaml", plan_key=PLAN_KEY, plan_store_url=str(tmp_path / "plans"))
    planned = stages.plan(ws, ws.config.unit("storage"), "test", "pr-1", credentials="deploy")
    stages.apply(ws, planned.plan_id)  # what Terraform left in test
    s3 = clouds["test"].boto3_client("s3")
    as_deployed = s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "team", "Value": "changed-by-hand"}]})

    found = defs.resolve_job_def("drift").execute_in_process(instance=instance)
    checks = {e.check_name: e for e in found.get_asset_check_evaluations()}
    assert checks["no_drift_test"].passed is False and checks["no_drift_prod"].passed is True
    [issue] = [i for i in emu.repo.issues.values() if i.labels == ["drift"]]
    assert issue.title.startswith("Drift: storage in test") and issue.state == "open"
    assert "module.artifacts.aws_s3_bucket.this" in issue.body
    assert 'tags.team: "platform" -> "changed-by-hand"' in issue.body

    # the remediation is a stored plan a person can review (and apply only by choosing it): bound to main's commit
    plan_id = latest_metadata(instance, "storage/drift")["test_plan_id"]
    assert checks["no_drift_test"].metadata["plan_id"].value == plan_id and plan_id[:12] in issue_text(checks)
    stored = ws.store.get(plan_id)
    assert (stored.record.binding.environment, stored.record.binding.change) == ("test", None)
    assert stored.record.binding.commit and "module.artifacts.aws_s3_bucket.this" in stored.record.addresses
    assert ws.store.applied(plan_id) is None and _tags(s3)["team"] == "changed-by-hand", "drift never applies"

    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": as_deployed})
    fixed = defs.resolve_job_def("drift_test").execute_in_process(instance=instance)  # what test's schedule runs
    assert {e.check_name: e.passed for e in fixed.get_asset_check_evaluations()} == {"no_drift_test": True}
    assert issue.state == "closed" and "The drift is gone" in emu.repo.comments_on(issue.number)[-1].body
    assert len([i for i in emu.repo.issues.values() if i.labels == ["drift"]]) == 1, "no second issue"


def issue_text(checks) -> str:
    return checks["no_drift_test"].description or ""


def _tags(s3) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
