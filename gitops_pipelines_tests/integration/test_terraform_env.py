"""Each Terraform process gets only what it needs, on real Terraform.

A `local-exec` that writes its whole environment to a file shows what the sandbox and a deploy see: their own
target's env and credentials, the allowlist, nothing else of this process. Against moto, the access key id in each
request's signature (moto's request recorder) shows which credentials a plan at PR time, an apply and a drift check
held.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gitops_pipelines.core import stages
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.plan_store import open_plan_store
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines_dev.infra import ACCESS_KEYS, make_infra_repo

pytestmark = pytest.mark.slow

# what the Dagster process holds that no Terraform process may see
OTHER_SECRETS = {
    "GITHUB_TOKEN": "ghp_probe-github-token-4711",
    "GITOPS_PLAN_KEY": "probe-plan-key-0815",
    "GITOPS_WEBHOOK_SECRET": "probe-webhook-secret-1234",
    "PROD_AWS_ACCESS_KEY_ID": "AKIAPROBEPROD",
    "PROD_AWS_SECRET_ACCESS_KEY": "probe-prod-secret-5678",
    "AWS_SECRET_ACCESS_KEY": "probe-ambient-secret-9999",
}
TARGET_KEYS = {
    "TEST_AWS_ACCESS_KEY_ID": "AKIAPROBETESTDEPLOY",
    "TEST_AWS_SECRET_ACCESS_KEY": "probe-test-deploy-secret",
    "TEST_PLAN_AWS_ACCESS_KEY_ID": "AKIAPROBETESTPLAN",
    "TEST_PLAN_AWS_SECRET_ACCESS_KEY": "probe-test-plan-secret",
    "SANDBOX_AWS_ACCESS_KEY_ID": "AKIAPROBESANDBOX",
    "SANDBOX_AWS_SECRET_ACCESS_KEY": "probe-sandbox-secret",
}

PROBE_GITOPS = """
terraform:
  pass_env: [GITOPS_PROBE_EXTRA]
policy:
  allow: ["no-local-exec:terraform_data.probe"]  # the probe's whole point
security:
  allow_provisioners: {probe: [local-exec]}        # and the static check lets it run, as main may allow
environments:
  - name: test
    auto_apply: true
    env: {PROBE_TARGET: test}
    credentials: {AWS_ACCESS_KEY_ID: TEST_AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: TEST_AWS_SECRET_ACCESS_KEY}
    plan_credentials:
      AWS_ACCESS_KEY_ID: TEST_PLAN_AWS_ACCESS_KEY_ID
      AWS_SECRET_ACCESS_KEY: TEST_PLAN_AWS_SECRET_ACCESS_KEY
    variables: {out: "%(out)s/test.env"}
  - name: prod
    credentials: {AWS_ACCESS_KEY_ID: PROD_AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: PROD_AWS_SECRET_ACCESS_KEY}
ephemeral:
  env: {PROBE_TARGET: sandbox}
  credentials: {AWS_ACCESS_KEY_ID: SANDBOX_AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SANDBOX_AWS_SECRET_ACCESS_KEY}
  variables: {out: "%(out)s/sandbox.env"}
units:
  - {name: probe, kind: project, path: projects/probe, environments: [test]}
"""
PROBE_TF = """
variable "out" {
  type = string
}

resource "terraform_data" "probe" {
  provisioner "local-exec" {
    command = "env > '${var.out}'"
  }
}
"""


def _env_file(path: Path) -> tuple[dict[str, str], str]:
    text = path.read_text()
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k: v for k, v in pairs}, text


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A one-resource project whose apply writes its environment to a file; this process holds every secret."""
    for name, value in {**OTHER_SECRETS, **TARGET_KEYS, "GITOPS_PROBE_EXTRA": "passed-by-name",
                        "TF_LOG": "TRACE"}.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "seen"
    out.mkdir()
    source = tmp_path / "source"
    (source / "projects" / "probe").mkdir(parents=True)
    (source / "gitops.yaml").write_text(textwrap.dedent(PROBE_GITOPS) % {"out": out})
    (source / "projects" / "probe" / "main.tf").write_text(PROBE_TF)
    root = make_infra_repo(tmp_path / "repo", source)
    ws = Workspace(load_config(root / "gitops.yaml"), log=lambda line: None)
    ws._store = open_plan_store(str(tmp_path / "plans"), root, key=b"e" * 32)
    return ws, out


def _assert_sees_nothing_else(env: dict[str, str], text: str) -> None:
    for name, value in OTHER_SECRETS.items():
        assert value not in text, f"{name}'s value reached Terraform"
    for name in ("GITHUB_TOKEN", "GITOPS_PLAN_KEY", "GITOPS_WEBHOOK_SECRET", "PROD_AWS_ACCESS_KEY_ID", "TF_LOG",
                 *TARGET_KEYS):
        assert name not in env
    assert env["GITOPS_PROBE_EXTRA"] == "passed-by-name"  # terraform.pass_env
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_INPUT"] == "0" and env["PATH"]


def test_the_sandbox_sees_its_own_settings_and_nothing_else(probe):
    ws, out = probe
    result = stages.ephemeral_test(ws, ws.config.unit("probe"))
    assert result.passed, result.summary()
    env, text = _env_file(out / "sandbox.env")
    assert env["PROBE_TARGET"] == "sandbox"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAPROBESANDBOX"
    assert env["AWS_SECRET_ACCESS_KEY"] == "probe-sandbox-secret"
    _assert_sees_nothing_else(env, text)
    for value in ("AKIAPROBETESTDEPLOY", "probe-test-deploy-secret", "AKIAPROBETESTPLAN", "probe-test-plan-secret"):
        assert value not in text  # no environment's credentials, neither deploy nor plan ones


def test_a_deploy_sees_its_environments_deploy_credentials_only(probe):
    ws, out = probe
    planned = stages.plan(ws, ws.config.unit("probe"), "test", "pr-13", credentials="plan")
    stages.apply(ws, planned.plan_id)
    env, text = _env_file(out / "test.env")
    assert env["PROBE_TARGET"] == "test"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAPROBETESTDEPLOY"
    assert env["AWS_SECRET_ACCESS_KEY"] == "probe-test-deploy-secret"
    _assert_sees_nothing_else(env, text)
    for value in ("AKIAPROBETESTPLAN", "probe-test-plan-secret", "AKIAPROBESANDBOX", "probe-sandbox-secret"):
        assert value not in text


def test_moto_sees_the_plan_key_at_pr_time_and_the_deploy_key_at_apply(workspace, moto_servers):
    """The sample's test environment: plan_credentials for the PR-time plan and for drift, credentials to apply."""
    cloud = moto_servers["test"]
    plan_key, deploy_key = ACCESS_KEYS["TEST_PLAN"][0], ACCESS_KEYS["TEST"][0]
    unit = workspace.config.unit("storage")

    with cloud.recording() as seen:
        planned = stages.plan(workspace, unit, "test", "pr-13", credentials="plan")
    assert seen.requests(), "the plan made no request to the test cloud"
    assert seen.access_key_ids() == {plan_key}

    with cloud.recording() as seen:
        stages.apply(workspace, planned.plan_id)
    assert {r.service for r in seen.requests()} >= {"s3", "ssm"}  # the provider's requests, not only the state's
    assert seen.access_key_ids() == {deploy_key}

    with cloud.recording() as seen:  # drift reads what apply made: the provider's reads sign with the plan key
        assert stages.drift(workspace, unit, "test").status == "no_drift"
    assert "ssm" in {r.service for r in seen.requests()}
    assert seen.access_key_ids() == {plan_key}
