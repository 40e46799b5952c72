"""Policy checks on plans made by real Terraform, and Rego policies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from gitops_pipelines.core.policy.testing import run_policy_tests
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
    assert "no-local-exec" in report.rules and "destroy-in-prod" in report.rules
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


def test_a_conftest_policy_works_as_it_is_with_its_data_file(tmp_path):
    pytest.importorskip("regopy")
    (tmp_path / "sizes.rego").write_text(
        "package main\n\nimport rego.v1\n\n"
        "deny contains msg if {\n"
        "  some rc in input.resource_changes\n"
        "  rc.type == \"aws_instance\"\n"
        "  not rc.change.after.instance_type in data.allowed_sizes\n"
        "  msg := concat(\"\", [rc.address, \" is not an allowed size\"])\n"
        "}\n\n"
        "warn contains \"review every instance by hand\" if {\n"
        "  some rc in input.resource_changes\n"
        "  rc.type == \"aws_instance\"\n"
        "}\n\n"
        "violation contains {\"msg\": \"gp2 volumes are slow\", \"resource\": rc.address} if {\n"
        "  some rc in input.resource_changes\n"
        "  rc.change.after.type == \"gp2\"\n"
        "}\n")
    (tmp_path / "sizes_test.rego").write_text("package main\n\ntest_nothing if { true }\n")  # a unit test
    (tmp_path / "data.yaml").write_text("allowed_sizes: [t3.small]\n")
    p = plan(change("aws_instance.web", {"ami": "ami-1", "instance_type": "t2.micro"}),
             change("aws_ebs_volume.d", {"encrypted": True, "type": "gp2"}))
    report = evaluate(p, "test", rego_dir=tmp_path)
    assert sorted((v.rule_id, v.severity, v.address, v.message) for v in report.violations) == [
        ("main.deny", "error", "", "aws_instance.web is not an allowed size"),
        ("main.violation", "error", "aws_ebs_volume.d", "gp2 volumes are slow"),
        ("main.warn", "warning", "", "review every instance by hand"),
    ]
    assert not report.passed and "rego:" + tmp_path.name in report.rules
    other = evaluate(p, "test", rego_dir=tmp_path, namespaces=["policies.other"])
    assert not [v for v in other.violations if v.rule_id.startswith("main.")], "only the configured namespaces"


def test_a_file_that_does_not_compile_fails_the_check_with_its_line_and_the_others_still_run(tmp_path):
    pytest.importorskip("regopy")
    (tmp_path / "bad.rego").write_text("package main\n\ndeny contains x if {\n")
    (tmp_path / "good.rego").write_text("package main\n\nimport rego.v1\n\nwarn contains \"seen\" if { true }\n")
    report = evaluate(plan(), "test", rego_dir=tmp_path)
    [broken] = [v for v in report.violations if v.rule_id == "policy-compile"]
    assert broken.message.startswith("bad.rego:3: does not compile") and not report.passed
    assert ("main.warn", "seen") in [(v.rule_id, v.message) for v in report.violations]


def test_empty_rego_folder_adds_nothing(tmp_path):
    assert evaluate(plan(), "test", rego_dir=tmp_path).passed


def test_policy_tests_pass_or_fail_with_the_data_files(tmp_path):
    pytest.importorskip("regopy")
    (tmp_path / "sizes.rego").write_text(
        "package main\n\nimport rego.v1\n\n"
        "warn contains msg if {\n  some rc in input.resource_changes\n  msg := concat(\"\", [rc.address, \" is new\"])\n}\n")
    (tmp_path / "sizes.yaml").write_text("allowed_sizes: [t3.small]\n")
    (tmp_path / "sizes_test.rego").write_text(
        "package main\n\nimport rego.v1\n\n"
        "test_small_is_allowed if {\n  \"t3.small\" in data.allowed_sizes\n}\n\n"
        "test_wrong if {\n  count(data.allowed_sizes) == 5\n}\n")
    results = {r.name: r for r in run_policy_tests(tmp_path)}
    assert results["data.main.test_small_is_allowed"].passed  # with the data files, as opa test -d
    assert not results["data.main.test_wrong"].passed and "got" in results["data.main.test_wrong"].detail


def test_a_crash_of_the_rego_engine_is_a_failed_test_not_the_end_of_the_run(tmp_path):
    pytest.importorskip("regopy")
    (tmp_path / "new.rego").write_text(
        "package main\n\nimport rego.v1\n\n"
        "warn contains msg if {\n  some rc in input.resource_changes\n  msg := concat(\"\", [rc.address, \" is new\"])\n}\n")
    (tmp_path / "new_test.rego").write_text(  # regopy 1.5.2 segfaults on `with input as` here
        "package main\n\nimport rego.v1\n\n"
        "test_with_input if {\n  count(warn) == 1 with input as {\"resource_changes\": [{\"address\": \"a\"}]}\n}\n")
    [crashed] = run_policy_tests(tmp_path)
    assert crashed.name == "data.main.test_with_input" and not crashed.passed and "regopy" in crashed.detail


def test_a_dated_waiver_waives_until_its_expiry_and_the_report_says_why(tmp_path):
    pytest.importorskip("regopy")
    from gitops_pipelines.core.settings import PolicySettings

    (tmp_path / "sizes.rego").write_text(
        "package main\n\nimport rego.v1\n\n"
        "deny contains {\"msg\": \"t2 is retired\", \"resource\": rc.address} if {\n"
        "  some rc in input.resource_changes\n  rc.change.after.instance_type == \"t2.micro\"\n}\n")
    p = plan(change("aws_instance.web", {"ami": "ami-1", "instance_type": "t2.micro"}))
    settings = PolicySettings.model_validate({"waivers": [
        {"rule": "main.deny", "address": "aws_instance.*", "reason": "CHG-9: migrates in January",
         "expires": "2027-01-31"}]})
    import datetime
    before = evaluate(p, "test", rego_dir=tmp_path, waivers=settings.waivers, today=datetime.date(2027, 1, 31))
    assert before.passed and [v.address for v in before.allowed] == ["aws_instance.web"]
    assert "CHG-9: migrates in January" in before.markdown() and "2027-01-31" in before.markdown()
    after = evaluate(p, "test", rego_dir=tmp_path, waivers=settings.waivers, today=datetime.date(2027, 2, 1))
    assert not after.passed and [v.rule_id for v in after.errors] == ["main.deny"]
    assert "Expired waivers" in after.markdown() and "expired after 2027-01-31" in after.markdown()
    with pytest.raises(ValueError, match="reason"):
        PolicySettings.model_validate({"waivers": [{"rule": "x", "expires": "2027-01-31"}]})


def test_a_policy_that_errors_when_evaluated_fails_the_check_and_says_which_rule_set(tmp_path):
    pytest.importorskip("regopy")
    (tmp_path / "conflict.rego").write_text(  # a complete rule with two values: an evaluation error in OPA too
        "package main\n\nimport rego.v1\n\nlimit := 1 if { true }\n\nlimit := 2 if { true }\n\n"
        "deny contains \"too big\" if { limit > 5 }\n\nwarn contains \"checked\" if { true }\n")
    report = evaluate(plan(), "test", rego_dir=tmp_path)
    failed = [v for v in report.violations if v.rule_id == "policy-error"]
    assert failed and failed[0].message.startswith("data.main.deny failed") and not report.passed


def test_a_folder_with_only_policy_unit_tests_runs_no_policy(tmp_path):
    (tmp_path / "sizes_test.rego").write_text("package main\n\ntest_x if { true }\n")
    report = evaluate(plan(), "test", rego_dir=tmp_path)
    assert report.passed and f"rego:{tmp_path.name}" not in report.rules
