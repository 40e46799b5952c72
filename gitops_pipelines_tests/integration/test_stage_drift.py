"""drift(unit, env) on real Terraform against moto: no drift, drift made outside Terraform, code not yet applied."""

from __future__ import annotations

import pytest

from gitops_pipelines.core import promotion, stages
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.plan_store import open_plan_store
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines_tests.conftest import reset_clouds
from gitops_pipelines_tests.fixtures.infra_repo import make_infra_repo

pytestmark = pytest.mark.slow

BUCKET = "acme-test-artifacts"
BUCKET_ADDRESS = "module.artifacts.aws_s3_bucket.this"


@pytest.fixture(scope="module")
def deployed(moto_servers, cloud_env, tmp_path_factory):
    """The sample project applied to `test` from a private copy of the repository (the tests edit its code)."""
    reset_clouds(moto_servers)
    root = make_infra_repo(tmp_path_factory.mktemp("drift") / "repo")
    ws = Workspace(load_config(root / "gitops.yaml"), log=lambda line: None)
    ws._store = open_plan_store(str(root / "plans"), root, key=b"d" * 32)
    unit = ws.config.unit("storage")
    stages.apply(ws, stages.plan(ws, unit, "test").plan_id)
    return ws, unit, root


def _tags(moto_servers) -> dict[str, str]:
    s3 = moto_servers["test"].boto3_client("s3")
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}


def test_no_drift_right_after_apply(deployed):
    ws, unit, _ = deployed
    result = stages.drift(ws, unit, "test")
    assert (result.status, result.drifted, result.pending) == ("no_drift", [], [])
    assert result.summary() == "storage/test: no drift"


def test_change_made_outside_terraform_is_drift_and_is_not_reverted(deployed, moto_servers):
    ws, unit, _ = deployed
    s3 = moto_servers["test"].boto3_client("s3")
    original = _tags(moto_servers)
    changed = {**original, "team": "someone-else"}
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in changed.items()]})
    try:
        result = stages.drift(ws, unit, "test")
        assert result.status == "drift"
        assert result.drifted == [BUCKET_ADDRESS]
        assert BUCKET_ADDRESS in result.summary()
        assert _tags(moto_servers) == changed  # drift never applies
    finally:
        s3.put_bucket_tagging(Bucket=BUCKET,
                              Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in original.items()]})


def test_code_changed_but_not_applied_is_a_pending_change(deployed, moto_servers):
    ws, unit, root = deployed
    main_tf = root / "projects" / "storage" / "main.tf"
    original = main_tf.read_text()
    main_tf.write_text(original.replace('team        = "platform"', 'team        = "data"'))
    assert main_tf.read_text() != original
    try:
        result = stages.drift(ws, unit, "test")
        assert result.status == "pending_change"
        assert result.drifted == []
        assert BUCKET_ADDRESS in result.pending
        assert _tags(moto_servers)["team"] == "platform"
    finally:
        main_tf.write_text(original)


def test_a_drift_check_waits_for_an_apply_holding_the_lock_then_reports_it_and_never_breaks_it(deployed,
                                                                                               moto_servers):
    ws, unit, _ = deployed
    s3 = moto_servers["test"].boto3_client("s3")
    lock = "storage/terraform.tfstate.tflock"
    s3.put_object(Bucket="tfstate-test", Key=lock, Body=b'{"ID": "apply-in-progress", "Who": "deployer@ci"}')
    try:
        impatient = ws.config.model_copy(update={"terraform": ws.config.terraform.model_copy(
            update={"lock_timeout": "2s"})})
        quick = Workspace(impatient, log=lambda line: None)
        quick._store = ws._store
        results = {r.environment: r for r in promotion.drift_all(quick, unit)}
        assert results["test"].status == "locked" and "another run holds the state lock" in results["test"].summary()
        assert results["prod"].status == "pending_change", "the other environment is still checked (not deployed)"
        assert b"apply-in-progress" in s3.get_object(Bucket="tfstate-test", Key=lock)["Body"].read()
    finally:
        s3.delete_object(Bucket="tfstate-test", Key=lock)


def test_the_drift_plan_is_judged_by_the_policy_like_every_plan(deployed, moto_servers):
    """main's code would change the bucket (a pending change) and the policy requires a tag it lacks: the drift
    check says the plan that would bring the environment to main's code is denied, and names the rule."""
    ws, unit, root = deployed
    strict = ws.config.policy.model_copy(update={"required_tags": ["cost-center"]})
    judged = Workspace(ws.config.model_copy(update={"policy": strict}), log=lambda line: None, _store=ws.store)
    main_tf = root / "projects" / "storage" / "main.tf"
    original = main_tf.read_text()
    main_tf.write_text(original.replace('team        = "platform"', 'team        = "data"'))
    try:
        result = stages.drift(judged, unit, "test")
        assert result.status == "pending_change" and not result.policy_passed
        assert any(v.startswith("required-tags: ") and "cost-center" in v for v in result.policy_violations)
        assert "the policy denies the plan to main's code" in result.summary()
        assert stages.drift(ws, unit, "test").policy_passed, "the sample's own policy passes the same plan"
    finally:
        main_tf.write_text(original)
