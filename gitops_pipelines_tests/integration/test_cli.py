"""`gitops-pipelines` as a person or a script runs it: a real subprocess, real Terraform, moto, --json, exit codes.

The commands run in order on one private copy of the sample repository, as a change would go through them:
config check, syntax, ephemeral, plan (twice), plans list/show/verify, refused applies, apply, stale apply, drift.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gitops_pipelines_tests.conftest import reset_clouds
from gitops_pipelines_tests.fixtures.infra_repo import API_TOKEN, make_infra_repo

pytestmark = pytest.mark.slow

PLAN_KEY = "cli-test-plan-key"


class Cli:
    def __init__(self, root):
        self.root = root
        self.env = {**os.environ, "GITOPS_PLAN_KEY": PLAN_KEY, "GITOPS_CONFIG": str(root / "gitops.yaml")}

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "gitops_pipelines.cli", *args], capture_output=True,
                              text=True, env=self.env, timeout=600)
        assert proc.returncode == code, f"exit {proc.returncode}, wanted {code}\n{proc.stdout}\n{proc.stderr[-3000:]}"
        return proc

    def json(self, *args: str, code: int = 0):
        return json.loads(self(*args, "--json", code=code).stdout)


@pytest.fixture(scope="module")
def cli(moto_servers, cloud_env, tmp_path_factory):
    reset_clouds(moto_servers)
    return Cli(make_infra_repo(tmp_path_factory.mktemp("cli") / "repo"))


@pytest.fixture(scope="module")
def plans(cli):
    """Two plans of the project for test, made from the same (empty) state."""
    first = cli.json("plan", "storage", "--env", "test", "--change", "pr-5")
    second = cli.json("plan", "storage", "--env", "test", "--change", "pr-6")
    return first, second


def _buckets(server) -> set[str]:
    return {b["Name"] for b in server.boto3_client("s3").list_buckets()["Buckets"]}


def test_config_check(cli):
    payload = cli.json("config", "check")
    assert [u["name"] for u in payload["units"]] == ["bucket", "storage"]
    assert [e["name"] for e in payload["environments"]] == ["test", "prod"]
    assert "2 environment(s) (test, prod), 1 module(s), 1 project(s)" in cli("config", "check").stdout


def test_usage_errors_exit_2(cli):
    assert "the following arguments are required" in cli("apply", code=2).stderr
    assert cli.json("syntax", "nosuchunit", code=2)["kind"] == "ConfigError"
    assert "no environment named 'staging'" in cli.json("plan", "storage", "--env", "staging", code=2)["error"]


def test_syntax(cli):
    report = cli.json("syntax", "storage")
    assert report["passed"] is True and report["diagnostics"] == [] and report["unformatted"] == []


def test_ephemeral(cli, moto_servers):
    report = cli.json("ephemeral", "bucket")
    assert report["passed"] is True
    assert [s["name"] for s in report["steps"]] == ["test"]
    assert _buckets(moto_servers["sandbox"]) == set()


def test_plan(plans, cli):
    first, second = plans
    assert first["plan_id"] != second["plan_id"]
    assert first["summary"]["add"] == 5 and first["summary"]["has_changes"] is True
    assert first["binding"]["change"] == "pr-5" and first["binding"]["environment"] == "test"
    assert "(sensitive value)" in first["text"] and API_TOKEN not in json.dumps(first)
    human = cli("plan", "storage", "--env", "prod")
    assert "Plan: 5 to add" in human.stdout and "plan_id: " in human.stdout
    assert API_TOKEN not in human.stdout + human.stderr


def test_plans_list_show_verify(plans, cli):
    first, second = plans
    listed = cli.json("plans", "list", "--env", "test")
    assert {r["plan_id"] for r in listed} == {first["plan_id"], second["plan_id"]}
    assert [r["binding"]["change"] for r in cli.json("plans", "list", "--change", "pr-5")] == ["pr-5"]
    shown = cli.json("plans", "show", first["plan_id"])
    assert shown["applied"] is None and "Plan: 5 to add" in shown["text"]
    assert cli.json("plans", "verify", first["plan_id"]) == {"plan_id": first["plan_id"], "ok": True}
    assert all(p["ok"] for p in cli.json("plans", "verify"))
    assert cli.json("plans", "show", "0" * 64, code=3)["kind"] == "PlanNotFound"


def test_apply_refuses_another_environment(plans, cli, moto_servers):
    first, _ = plans
    refused = cli.json("apply", first["plan_id"], "--env", "prod", code=3)
    assert refused["kind"] == "PlanBindingMismatch" and "'prod'" in refused["error"]
    assert _buckets(moto_servers["prod"]) == {"tfstate-prod"}


def test_apply_refuses_a_tampered_plan_then_applies_the_intact_one(plans, cli, moto_servers):
    first, _ = plans
    sealed = cli.root / ".gitops" / "plans" / first["plan_id"] / "plan.bin.enc"
    original = sealed.read_bytes()
    damaged = bytearray(original)
    damaged[-1] ^= 0x01
    sealed.write_bytes(bytes(damaged))
    try:
        refused = cli.json("apply", first["plan_id"], code=3)
        assert refused["kind"] == "PlanTampered" and "plan.bin.enc" in refused["error"]
        problems = cli.json("plans", "verify", code=3)
        assert [p["ok"] for p in problems if p["plan_id"] == first["plan_id"]] == [False]
        assert "acme-test-artifacts" not in _buckets(moto_servers["test"])  # nothing applied
    finally:
        sealed.write_bytes(original)

    applied = cli.json("apply", first["plan_id"], "--env", "test", "--by", "alice")
    assert applied["already_applied"] is False and applied["applied_by"] == "alice"
    assert applied["outputs"]["artifacts_bucket"] == "acme-test-artifacts"
    assert "acme-test-artifacts" in _buckets(moto_servers["test"])
    again = cli("apply", first["plan_id"])
    assert "already applied" in again.stdout
    assert cli.json("plans", "show", first["plan_id"])["applied"]["applied_by"] == "alice"


def test_apply_refuses_a_stale_plan(plans, cli):
    _, second = plans
    refused = cli.json("apply", second["plan_id"], code=3)
    assert refused["kind"] == "PlanStale"
    assert "make a new plan" in refused["error"]


def test_drift_found_exits_4_apart_from_usage_errors(plans, cli, moto_servers):
    s3 = moto_servers["test"].boto3_client("s3")
    s3.put_bucket_tagging(Bucket="acme-test-artifacts", Tagging={"TagSet": [{"Key": "team", "Value": "rogue"}]})
    report = cli.json("drift", "storage", "--env", "test", code=4)
    assert report["status"] == "drift"
    assert "module.artifacts.aws_s3_bucket.this" in report["drifted"]
    # a usage error keeps its own code, so a script can tell the two apart
    assert cli("drift", "storage", code=2).stderr.count("--env") >= 1


def test_the_ephemeral_test_stage_answers_to_its_stage_name_and_a_short_alias(cli):
    for name in ("ephemeral_test", "ephemeral"):
        assert "throwaway sandbox" in cli(name, "--help").stdout


POLICY = """package main

import rego.v1

deny contains {"msg": "parameters come from the secrets pipeline, not from Terraform", "resource": rc.address} if {
	some rc in input.resource_changes
	rc.type == "aws_ssm_parameter"
}

warn contains "every bucket is reviewed by the storage team" if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket"
}
"""
POLICY_TESTS = """package main

import rego.v1

test_a_parameter_is_denied if {
	count(deny) == 1 with input as {"resource_changes": [{"type": "aws_ssm_parameter", "address": "p"}]}
}

test_nothing_is_denied_for_an_empty_plan if {
	count(deny) == 0 with input as {"resource_changes": []}
}

test_this_one_is_wrong if {
	count(deny) == 5 with input as {"resource_changes": []}
}
"""


def test_policy_on_a_stored_plan_and_the_repositorys_own_policy_tests(plans, cli):
    plan_id = plans[0]["plan_id"]
    clean = cli.json("policy", plan_id)
    assert clean["passed"] and not clean["violations"]
    folder = cli.root / "policies"
    folder.mkdir()
    try:
        (folder / "storage.rego").write_text(POLICY)
        (folder / "storage_test.rego").write_text(POLICY_TESTS)
        denied = cli.json("policy", plan_id, code=1)  # a conftest policy of the repository, picked up as it is
        found = {(v["rule_id"], v["severity"]) for v in denied["violations"]}
        assert {("main.deny", "error"), ("main.warn", "warning")} <= found
        text = cli("policy", plan_id, code=1).stdout
        assert "policy FAILED" in text and "aws_ssm_parameter.api_token  parameters come from the secrets" in text
        tests = cli("policy", "test", code=1).stdout
        assert "PASS: data.main.test_a_parameter_is_denied" in tests
        assert "FAIL: data.main.test_this_one_is_wrong" in tests and "2/3 policy tests passed" in tests
    finally:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


def test_audit_of_an_instance_with_no_applies_is_empty(cli, tmp_path):
    cli.env["DAGSTER_HOME"] = str(tmp_path)
    try:
        assert cli.json("audit") == []
        assert cli("audit", "--env", "prod", "--since", "2026-12-01").stdout.strip() == "no applies recorded"
        assert cli("audit", "--since", "last week", code=2).stderr.count("YYYY-MM-DD") == 1
    finally:
        del cli.env["DAGSTER_HOME"]
