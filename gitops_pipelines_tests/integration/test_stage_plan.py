"""plan(unit, env, change) on real Terraform against moto: counts, binding, storage, no secret anywhere."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from gitops_pipelines.core import stages
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.plan_store import open_plan_store
from gitops_pipelines.core.stages.plan import init_for
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines_tests.conftest import reset_clouds
from gitops_pipelines_tests.fixtures.infra_repo import API_TOKEN, git

pytestmark = pytest.mark.slow

BASE_SHA = "b" * 40
HELD_LOCK = "storage/terraform.tfstate.tflock"  # the S3 backend's lock file (use_lockfile)


@pytest.fixture(scope="module")
def planned(infra_root, moto_servers, tmp_path_factory):
    """One plan of the sample project for `test`, made on fresh clouds and kept in a private plan store, while
    another run holds the state's lock (a deploy, or another pull request's plan)."""
    reset_clouds(moto_servers)
    moto_servers["test"].boto3_client("s3").put_object(Bucket="tfstate-test", Key=HELD_LOCK, Body=json.dumps(
        {"ID": "another-run", "Operation": "OperationTypeApply", "Who": "deployer@ci"}).encode())
    lines: list[str] = []
    ws = Workspace(load_config(infra_root / "gitops.yaml"), log=lines.append)
    store_dir = tmp_path_factory.mktemp("plans")
    ws._store = open_plan_store(str(store_dir), infra_root, key=b"p" * 32)
    result = stages.plan(ws, ws.config.unit("storage"), "test", "pr-7", base_sha=BASE_SHA)
    return ws, result, lines, store_dir


def test_counts_and_plan_id(planned):
    ws, result, _, _ = planned
    s = result.record.summary
    # bucket, versioning, encryption, public access block, SSM parameter
    assert (s.add, s.change, s.destroy, s.replace) == (5, 0, 0, 0)
    assert s.has_changes
    stored = ws.store.get(result.plan_id)
    assert result.plan_id == hashlib.sha256(stored.plan_bytes()).hexdigest()
    assert "5 to add, 0 to change, 0 to destroy" in result.summary()
    assert "aws_ssm_parameter.api_token" in result.record.addresses


def test_binding_names_commit_change_terraform_and_lock_file(planned, infra_root):
    _, result, _, _ = planned
    b = result.record.binding
    assert (b.unit, b.environment, b.change, b.base_sha) == ("storage", "test", "pr-7", BASE_SHA)
    assert b.head_sha == git(infra_root, "rev-parse", "HEAD")
    version = json.loads(subprocess.run(["terraform", "version", "-json"], capture_output=True, text=True,
                                        check=True).stdout)["terraform_version"]
    assert b.terraform_version == version
    lock = infra_root / "projects" / "storage" / ".terraform.lock.hcl"
    assert b.lock_hash == hashlib.sha256(lock.read_bytes()).hexdigest()


def test_plan_is_stored_and_listed(planned):
    ws, result, _, store_dir = planned
    assert [r.plan_id for r in ws.store.list(unit="storage", environment="test", change="pr-7")] == [result.plan_id]
    assert {p.name for p in (store_dir / result.plan_id).iterdir()} >= {
        "plan.bin.enc", "plan.json", "plan.txt", "record.json"}
    stored = ws.store.get(result.plan_id)
    assert "Plan: 5 to add" in stored.text()
    assert {rc["address"] for rc in stored.plan_json()["resource_changes"]} >= {
        "aws_ssm_parameter.api_token", "module.artifacts.aws_s3_bucket.this"}
    assert ws.store.applied(result.plan_id) is None


def test_a_pr_plan_reads_the_state_without_taking_the_lock_another_run_holds(planned, moto_servers):
    _, result, lines, _ = planned
    assert result.plan_id  # planned, not refused after the lock timeout
    [command] = [line for line in lines if line.startswith("$ terraform plan")]
    assert "-lock=false" in command  # plan-only credentials could not write the lock anyway
    lock = moto_servers["test"].boto3_client("s3").get_object(Bucket="tfstate-test", Key=HELD_LOCK)
    assert b"another-run" in lock["Body"].read(), "the other run's lock is left alone"


def test_plan_changes_nothing_in_the_cloud(planned, moto_servers):
    buckets = {b["Name"] for b in moto_servers["test"].boto3_client("s3").list_buckets()["Buckets"]}
    assert buckets == {"tfstate-test"}
    assert moto_servers["test"].boto3_client("ssm").describe_parameters()["Parameters"] == []


def test_sensitive_value_appears_nowhere(planned):
    ws, result, lines, store_dir = planned
    assert lines, "the plan logged nothing"
    assert not [line for line in lines if API_TOKEN in line]
    assert API_TOKEN not in result.text and "(sensitive value)" in result.text
    assert API_TOKEN not in json.dumps(ws.store.get(result.plan_id).plan_json())
    for stored_file in (store_dir / result.plan_id).iterdir():
        assert API_TOKEN.encode() not in stored_file.read_bytes(), stored_file.name


def test_a_module_cannot_be_planned_for_an_environment(planned):
    ws, _, _, _ = planned
    with pytest.raises(ConfigError, match="a module is never deployed"):
        stages.plan(ws, ws.config.unit("bucket"), "test")


def test_the_stored_text_is_what_terraform_show_prints_of_the_stored_plan(planned, infra_root, tmp_path):
    """The text is cut from what `plan` printed (no third provider start); it is the very text `show` renders."""
    ws, result, lines, _ = planned
    assert not [line for line in lines if line.startswith("$ terraform show") and "-json" not in line]
    stored = ws.store.get(result.plan_id)
    planfile = tmp_path / "stored.tfplan"
    planfile.write_bytes(stored.plan_bytes())
    unit, env = ws.config.unit("storage"), ws.config.environment("test")
    data_dir = init_for(ws, unit, env, reuse=True)  # the folder the plan was made in, initialised already
    shown = ws.runner.show_text(ws.unit_dir(unit), planfile, data_dir=data_dir,
                                env=env.process_env(credentials="plan"))
    assert stored.text() == ws.runner.redactor(shown) and result.text == stored.text()


def test_a_second_plan_of_the_same_code_does_not_repeat_init(planned):
    ws, first, _, _ = planned
    lines: list[str] = []
    again = Workspace(ws.config, log=lines.append, _store=ws.store)
    result = stages.plan(again, again.config.unit("storage"), "test", "pr-7", base_sha=BASE_SHA)
    assert not [line for line in lines if line.startswith("$ terraform init")]
    assert any("terraform init not repeated" in line for line in lines)
    assert result.record.summary == first.record.summary and result.text == first.text
