"""ephemeral_test(unit) on real Terraform against the sandbox moto: deploy, check, always destroy, report leaks."""

from __future__ import annotations

import os

import pytest

from gitops_pipelines.core import stages
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines_dev.ports import free_port
from gitops_pipelines_tests.fixtures.infra_repo import make_infra_repo

pytestmark = pytest.mark.slow


def _workspace(root, environ=None) -> Workspace:
    lines: list[str] = []
    ws = Workspace(load_config(root / "gitops.yaml", environ=environ), log=lines.append)
    ws.log_lines = lines
    return ws


def _sandbox_contents(clouds) -> tuple[set[str], set[str]]:
    sandbox = clouds["sandbox"]
    buckets = {b["Name"] for b in sandbox.boto3_client("s3").list_buckets()["Buckets"]}
    params = {p["Name"] for p in sandbox.boto3_client("ssm").describe_parameters()["Parameters"]}
    return buckets, params


@pytest.fixture
def repo_copy(tmp_path, cloud_env):
    return make_infra_repo(tmp_path / "repo")


def test_project_passes_and_leaves_nothing_in_the_sandbox(infra_root, clouds):
    ws = _workspace(infra_root)
    result = stages.ephemeral_test(ws, ws.config.unit("storage"))

    assert result.passed, result.summary()
    assert [s.name for s in result.steps] == ["apply", "check", "destroy", "leak-check"]
    assert result.outputs["artifacts_bucket"] == f"acme-ephemeral{result.suffix}-artifacts"
    assert result.leaked == []
    assert _sandbox_contents(clouds) == (set(), set())
    # the throwaway deploy went to the sandbox only, and the real folder got no override file
    assert {b["Name"] for b in clouds["test"].boto3_client("s3").list_buckets()["Buckets"]} == {"tfstate-test"}
    assert not (infra_root / "projects" / "storage" / "_gitops_override.tf").exists()


def test_module_with_terraform_test_files_passes(infra_root, clouds):
    ws = _workspace(infra_root)
    result = stages.ephemeral_test(ws, ws.config.unit("bucket"))

    assert result.passed, result.summary()
    assert [s.name for s in result.steps] == ["test"]
    assert "1 passed, 0 failed" in result.steps[0].detail
    assert _sandbox_contents(clouds) == (set(), set())


def test_apply_failing_half_way_is_destroyed_and_names_the_step(repo_copy, clouds):
    # A parameter that already exists in the sandbox: moto refuses to create it again, the rest is created.
    clouds["sandbox"].boto3_client("ssm").put_parameter(Name="/preexisting", Value="x", Type="String")
    (repo_copy / "projects" / "storage" / "clash.tf").write_text(
        'resource "aws_ssm_parameter" "clash" {\n'
        '  name  = "/preexisting"\n'
        '  type  = "String"\n'
        '  value = "y"\n'
        "}\n"
    )
    ws = _workspace(repo_copy)
    result = stages.ephemeral_test(ws, ws.config.unit("storage"))

    assert not result.passed
    failed = [s for s in result.steps if not s.passed]
    assert [s.name for s in failed] == ["apply"], result.summary()
    assert "ParameterAlreadyExists" in failed[0].detail or "already exists" in failed[0].detail
    assert "apply: " in result.summary()
    destroy = next(s for s in result.steps if s.name == "destroy")
    assert destroy.passed
    assert result.leaked == []
    created = [line for line in ws.log_lines if "Creation complete" in line]
    assert created, "nothing was created before the failure: the test no longer fails half way"
    assert _sandbox_contents(clouds) == (set(), {"/preexisting"})


def test_resources_destroy_cannot_remove_are_reported_as_leaked(repo_copy, clouds):
    (repo_copy / "projects" / "storage" / "keep.tf").write_text(
        'resource "aws_ssm_parameter" "keep" {\n'
        '  name  = "/keep${var.name_suffix}"\n'
        '  type  = "String"\n'
        '  value = "kept"\n'
        "\n"
        "  lifecycle {\n"
        "    prevent_destroy = true\n"
        "  }\n"
        "}\n"
    )
    ws = _workspace(repo_copy)
    result = stages.ephemeral_test(ws, ws.config.unit("storage"))

    assert not result.passed
    steps = {s.name: s for s in result.steps}
    assert steps["apply"].passed and not steps["destroy"].passed
    assert "prevent_destroy" in steps["destroy"].detail or "cannot be destroyed" in steps["destroy"].detail
    assert "aws_ssm_parameter.keep" in result.leaked
    assert not steps["leak-check"].passed and "aws_ssm_parameter.keep" in steps["leak-check"].detail
    assert "LEAKED" in result.summary()
    _, params = _sandbox_contents(clouds)
    assert f"/keep{result.suffix}" in params  # really left behind, as reported


def test_unreachable_sandbox_fails_and_still_tries_to_destroy(repo_copy, clouds):
    main_tf = repo_copy / "projects" / "storage" / "main.tf"
    # without this the provider retries a refused connection for about a minute
    main_tf.write_text(main_tf.read_text().replace('provider "aws" {\n', 'provider "aws" {\n  max_retries = 1\n'))
    environ = {**os.environ, "SANDBOX_AWS_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    ws = _workspace(repo_copy, environ)
    result = stages.ephemeral_test(ws, ws.config.unit("storage"))

    assert not result.passed
    apply = next(s for s in result.steps if s.name == "apply")
    assert not apply.passed and "could not be reached" in apply.detail
    assert "destroy" in [s.name for s in result.steps]
    assert "leak-check" in [s.name for s in result.steps]
