"""What a Terraform process is given: an allowlist of this process's environment, then the target's own env and
credentials (deploy or plan), then the runner's settings. Pure: no Terraform runs here."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_pipelines.core.config import EnvironmentConfig, EphemeralConfig, load_config
from gitops_pipelines.core.redact import looks_secret
from gitops_pipelines.core.terraform import PROCESS_ENV_ALLOWLIST, RUNNER_ENV, TerraformRunner, terraform_env
from gitops_pipelines.core.workspace import Workspace

# what the Dagster process holds besides what Terraform needs
DAGSTER_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/home/dagster",
    "LANG": "C.UTF-8",
    "HTTPS_PROXY": "http://proxy.internal:3128",
    "NO_PROXY": "127.0.0.1,localhost",
    "GITHUB_TOKEN": "ghp_dagster-github-token",
    "GITOPS_PLAN_KEY": "plan-key-base64",
    "GITOPS_WEBHOOK_SECRET": "webhook-hmac-secret",
    "AWS_ACCESS_KEY_ID": "AKIAINHERITED",
    "AWS_SECRET_ACCESS_KEY": "inherited-secret",
    "TEST_AWS_ACCESS_KEY_ID": "AKIATESTDEPLOY",
    "TEST_AWS_SECRET_ACCESS_KEY": "test-deploy-secret",
    "TEST_PLAN_AWS_ACCESS_KEY_ID": "AKIATESTPLAN",
    "TEST_PLAN_AWS_SECRET_ACCESS_KEY": "test-plan-secret",
    "PROD_AWS_ACCESS_KEY_ID": "AKIAPRODDEPLOY",
    "PROD_AWS_SECRET_ACCESS_KEY": "prod-deploy-secret",
    "TF_VAR_api_token": "api-token-value",
    "TF_LOG": "TRACE",
    "TF_DATA_DIR": "/somewhere/else",
    "DAGSTER_HOME": "/var/dagster",
}

TEST_ENV = EnvironmentConfig(
    name="test",
    env={"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "us-east-1"},
    credentials={"AWS_ACCESS_KEY_ID": "TEST_AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY": "TEST_AWS_SECRET_ACCESS_KEY",
                 "TF_VAR_api_token": "TF_VAR_api_token"},
    plan_credentials={"AWS_ACCESS_KEY_ID": "TEST_PLAN_AWS_ACCESS_KEY_ID",
                      "AWS_SECRET_ACCESS_KEY": "TEST_PLAN_AWS_SECRET_ACCESS_KEY",
                      "TF_VAR_api_token": "TF_VAR_api_token"},
    plan_env={"AWS_REGION": "eu-west-1"},
)


def test_only_allowlisted_names_come_from_the_process_environment():
    env = terraform_env(DAGSTER_ENV)
    assert env == {"PATH": DAGSTER_ENV["PATH"], "HOME": "/home/dagster", "LANG": "C.UTF-8",
                   "HTTPS_PROXY": "http://proxy.internal:3128", "NO_PROXY": "127.0.0.1,localhost", **RUNNER_ENV}
    assert "TF_LOG" not in env  # only gitops.yaml turns on Terraform's debug log (it prints requests)


def test_the_target_comes_on_top_and_the_runner_settings_over_everything(tmp_path):
    target = {"AWS_REGION": "us-east-1", "PATH": "/opt/tools/bin", "TF_INPUT": "1", "TF_DATA_DIR": "/elsewhere"}
    env = terraform_env(DAGSTER_ENV, target, cli_config=tmp_path / "rc", data_dir=tmp_path / "data")
    assert env["AWS_REGION"] == "us-east-1" and env["PATH"] == "/opt/tools/bin"
    assert env["TF_INPUT"] == "0" and env["TF_IN_AUTOMATION"] == "1" and env["CHECKPOINT_DISABLE"] == "1"
    assert env["TF_DATA_DIR"] == str(tmp_path / "data") and env["TF_CLI_CONFIG_FILE"] == str(tmp_path / "rc")


def test_pass_env_adds_exactly_the_names_it_lists():
    env = terraform_env(DAGSTER_ENV, pass_env=["DAGSTER_HOME", "TF_LOG", "NOT_SET_ANYWHERE"])
    assert env["DAGSTER_HOME"] == "/var/dagster" and env["TF_LOG"] == "TRACE"
    assert "NOT_SET_ANYWHERE" not in env and "GITHUB_TOKEN" not in env


def test_the_allowlist_names_no_secret_and_says_why_for_each_entry():
    for name, why in PROCESS_ENV_ALLOWLIST.items():
        assert why.strip(), f"{name}: say why Terraform needs it"
        assert not looks_secret(name) and not name.startswith("TF_") and "*" not in name


def test_credentials_as_names_or_as_a_mapping():
    listed = EphemeralConfig(env={"A": "1"}, credentials=["AWS_ACCESS_KEY_ID", "MISSING_ONE"])
    assert listed.process_env(DAGSTER_ENV) == {"A": "1", "AWS_ACCESS_KEY_ID": "AKIAINHERITED"}  # unset: left out
    mapped = EphemeralConfig(credentials={"AWS_ACCESS_KEY_ID": "PROD_AWS_ACCESS_KEY_ID"})
    assert mapped.process_env(DAGSTER_ENV) == {"AWS_ACCESS_KEY_ID": "AKIAPRODDEPLOY"}


def test_deploy_and_plan_credentials_never_mix():
    deploy = TEST_ENV.process_env(DAGSTER_ENV, credentials="deploy")
    assert deploy == {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "us-east-1",
                      "AWS_ACCESS_KEY_ID": "AKIATESTDEPLOY", "AWS_SECRET_ACCESS_KEY": "test-deploy-secret",
                      "TF_VAR_api_token": "api-token-value"}
    assert TEST_ENV.process_env(DAGSTER_ENV) == deploy  # the default: what apply uses
    plan = TEST_ENV.process_env(DAGSTER_ENV, credentials="plan")
    assert plan == {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "eu-west-1",
                    "AWS_ACCESS_KEY_ID": "AKIATESTPLAN", "AWS_SECRET_ACCESS_KEY": "test-plan-secret",
                    "TF_VAR_api_token": "api-token-value"}
    whole = terraform_env(DAGSTER_ENV, plan)
    for secret in ("test-deploy-secret", "AKIATESTDEPLOY", "prod-deploy-secret", "inherited-secret",
                   DAGSTER_ENV["GITHUB_TOKEN"], DAGSTER_ENV["GITOPS_PLAN_KEY"], DAGSTER_ENV["GITOPS_WEBHOOK_SECRET"]):
        assert secret not in whole.values()


def test_plan_credentials_fall_back_to_the_deploy_ones_only_when_unset():
    unset = EnvironmentConfig(name="prod", credentials={"AWS_ACCESS_KEY_ID": "PROD_AWS_ACCESS_KEY_ID"})
    assert unset.process_env(DAGSTER_ENV, credentials="plan") == {"AWS_ACCESS_KEY_ID": "AKIAPRODDEPLOY"}
    none = EnvironmentConfig(name="prod", credentials={"AWS_ACCESS_KEY_ID": "PROD_AWS_ACCESS_KEY_ID"},
                             plan_credentials={})
    assert none.process_env(DAGSTER_ENV, credentials="plan") == {}
    with pytest.raises(ValueError, match="'deploy' or 'plan'"):
        unset.process_env(DAGSTER_ENV, credentials="admin")


def test_both_credential_sets_are_masked():
    assert set(TEST_ENV.secret_values(DAGSTER_ENV)) == {
        "AKIATESTDEPLOY", "test-deploy-secret", "AKIATESTPLAN", "test-plan-secret", "api-token-value"}


def test_the_runner_builds_from_this_process_at_each_call(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_never-for-terraform")
    monkeypatch.setenv("EXTRA_TOOL_HOME", "/opt/tool")
    env = TerraformRunner(pass_env=("EXTRA_TOOL_HOME",))._base_env({"AWS_REGION": "us-east-1"})
    assert env["EXTRA_TOOL_HOME"] == "/opt/tool" and env["AWS_REGION"] == "us-east-1"
    assert "GITHUB_TOKEN" not in env


def test_the_workspace_runner_takes_pass_env_from_gitops_yaml(tmp_path: Path):
    (tmp_path / "modules" / "m").mkdir(parents=True)
    (tmp_path / "gitops.yaml").write_text(
        "terraform: {pass_env: [TF_LOG, TF_PLUGIN_CACHE_DIR]}\nenvironments: [{name: test}]\n"
        "units: [{name: m, kind: module, path: modules/m}]\n")
    ws = Workspace(load_config(tmp_path / "gitops.yaml", environ={}))
    assert ws.runner.pass_env == ("TF_LOG", "TF_PLUGIN_CACHE_DIR")
