"""Policy checks on plans made by real Terraform, and Rego policies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines_tests.unit.test_policy import change, ids, plan
from gitops_pipelines.core.policy import (
    BUNDLED_POLICIES,
    evaluate,
)



# -- real terraform ------------------------------------------------------------------------------------------------
needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")


def terraform(cwd, *args):
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run(["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 2), result.stderr
    return result.stdout


@pytest.fixture
def real_plan(tmp_path):
    """A real `terraform show -json` of a replace: terraform_data needs no provider download."""
    (tmp_path / "main.tf").write_text(
        'variable "release" {\n  default = "1"\n}\n'
        'resource "terraform_data" "app" {\n  triggers_replace = [var.release]\n}\n'
        'module "hooks" {\n  source = "./hooks"\n}\n'
    )
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "main.tf").write_text(
        'resource "terraform_data" "notify" {\n  provisioner "local-exec" {\n    command = "true"\n  }\n}\n'
    )
    terraform(tmp_path, "init", "-input=false", "-no-color")
    terraform(tmp_path, "apply", "-input=false", "-auto-approve", "-no-color")
    terraform(tmp_path, "plan", "-input=false", "-no-color", "-var", "release=2", "-out", "tf.plan", "-detailed-exitcode")
    return json.loads(terraform(tmp_path, "show", "-json", "tf.plan"))


@needs_terraform
def test_real_plan_replace_in_prod(real_plan):
    hook = "no-local-exec:module.hooks.*"  # the bundled pack's rule, waived here to look at destroy-in-prod alone
    report = evaluate(real_plan, "prod", allow={hook})
    assert ids(report) == [("destroy-in-prod", "terraform_data.app")]
    assert evaluate(real_plan, "test", allow={hook}).passed
    assert evaluate(real_plan, "prod", allow={hook, "destroy-in-prod:terraform_data.app"}).passed


# -- Rego ----------------------------------------------------------------------------------------------------------
@needs_terraform
def test_bundled_rego_policy_on_a_real_plan(real_plan):
    pytest.importorskip("regopy")
    report = evaluate(real_plan, "test")  # the default pack loads the bundled Rego files by itself
    assert ids(report) == [("no-local-exec", "module.hooks.terraform_data.notify")]
    assert not report.passed
    assert report.rules[-1] == "rego:rules"
    assert ids(evaluate(real_plan, "test", rego_dir=BUNDLED_POLICIES)) == ids(report)  # named again: not twice
    waived = evaluate(real_plan, "test", allow={"no-local-exec:module.hooks.*"})
    assert waived.passed


def test_rego_policy_sees_the_environment_and_objects_or_strings(tmp_path):
    pytest.importorskip("regopy")
    (tmp_path / "prod_only.rego").write_text(
        "package gitops\n\nimport rego.v1\n\n"
        "deny contains msg if {\n"
        '  data.gitops_context.environment == "prod"\n'
        "  some rc in input.resource_changes\n"
        '  rc.type == "aws_instance"\n'
        '  rc.change.after.instance_type == "t2.micro"\n'
        '  msg := sprintf("%s: use t3 in prod", [rc.address])\n'
        "}\n\n"
        "deny contains {\"rule\": \"no-gp2\", \"severity\": \"warning\", \"address\": rc.address, \"msg\": \"gp2 is slower\"} if {\n"
        "  some rc in input.resource_changes\n"
        '  rc.change.after.type == "gp2"\n'
        "}\n"
    )
    (tmp_path / "README.md").write_text("not a policy")
    p = plan(change("aws_instance.web", {"ami": "ami-1", "instance_type": "t2.micro"}),
             change("aws_ebs_volume.d", {"encrypted": True, "type": "gp2"}))
    assert ids(evaluate(p, "test", rego_dir=tmp_path)) == [("no-gp2", "aws_ebs_volume.d")]
    prod = evaluate(p, "prod", rego_dir=tmp_path)
    assert sorted((v.rule_id, v.severity, v.message) for v in prod.violations) == [
        ("no-gp2", "warning", "gp2 is slower"),
        ("rego", "error", "aws_instance.web: use t3 in prod"),
    ]


def test_broken_rego_is_a_config_error(tmp_path):
    pytest.importorskip("regopy")
    (tmp_path / "bad.rego").write_text("package gitops\n\ndeny contains x if {\n")
    with pytest.raises(ConfigError, match="bad.rego"):
        evaluate(plan(), "test", rego_dir=tmp_path)


def test_empty_rego_folder_adds_nothing(tmp_path):
    assert evaluate(plan(), "test", rego_dir=tmp_path).passed
