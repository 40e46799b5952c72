"""A pull request cannot change the rules it is judged by: main's gitops.yaml and policy files decide, through the
sensors on the GitHub emulator, with real Terraform against moto (syntax and the test plan only: the fast stages)."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from gitops_pipelines_dev.infra import SAMPLE
from gitops_pipelines_tests.dagster.sensor_support import Sensor, check_runs, execute

pytestmark = pytest.mark.slow

POLICY = """package gitops

import rego.v1

deny contains violation if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket"
	rc.change.after.tags.public == "yes"
	violation := {"rule": "no-public-tag", "severity": "error", "address": rc.address,
		"msg": concat("", [rc.address, " is tagged public"])}
}
"""
BUCKET_LINE = next(i for i, line in enumerate((SAMPLE / "modules/bucket/main.tf").read_text().splitlines(), 1)
                   if line.startswith('resource "aws_s3_bucket" "this"'))
PUBLIC_BUCKET = """module "shared" {
  source = "../../modules/bucket"

  name = "${local.prefix}-shared"
  tags = { public = "yes" }
}
"""


def _settings(text: str, **changes) -> str:
    data = yaml.safe_load(text)
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split(".")
        for part in path:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        target[last] = value
    return yaml.safe_dump(data, sort_keys=False)


def test_a_pull_request_is_judged_by_mains_rules_not_its_own(github_env, instance):
    emu, checkout, defs, github, _ = github_env
    main_config = emu.repo.git.show_file("main", "gitops.yaml")
    # main's rules: a Rego policy that denies buckets tagged public
    emu.commit("main", {"policies/no_public.rego": POLICY,
                        "gitops.yaml": _settings(main_config, **{"policy.rego_dir": "policies"})}, "Deny public buckets")
    main_config = emu.repo.git.show_file("main", "gitops.yaml")
    sensor = Sensor(defs, instance, github)
    sensor.tick()

    # 1. a public bucket, with a waiver of the rule in its own gitops.yaml and the policy file deleted
    issue = emu.create_issue("Shared bucket")
    emu.commit("waive", {"projects/storage/shared.tf": PUBLIC_BUCKET, "policies/no_public.rego": None,
                         "gitops.yaml": _settings(main_config, **{"policy.allow": ["no-public-tag"]})},
               "Add a shared bucket")
    waiver = emu.open_pull("waive", "Add a shared bucket", f"Fixes #{issue}")
    # 2. the test environment's endpoint pointed at a host of the pull request's choosing
    emu.commit("endpoint", {"gitops.yaml": _settings(
        main_config, **{"environments.0.env.AWS_ENDPOINT_URL": "http://127.0.0.1:9"}),
        "projects/storage/notes.tf": "# the PR's own notes\n"}, "Move the test endpoint")
    endpoint = emu.open_pull("endpoint", "Move the test endpoint", f"Fixes #{issue}")

    for request in sensor.tick().run_requests:
        if request.asset_selection[0].path[0] == "storage":
            execute(defs, instance, checkout, request, must_succeed=False)

    waived = check_runs(emu, emu.repo.pull(waiver).head_sha)
    assert waived["storage/policy (test)"] == ("completed", "failure"), "its own waiver and deletion count for nothing"
    policy = next(r for r in emu.repo.check_runs.values()
                  if r.name == "storage/policy (test)" and r.head_sha == emu.repo.pull(waiver).head_sha)
    # the violation is annotated where the bucket is declared: in the module the pull request's block calls
    [annotation] = [a for a in policy.output.get("annotations", []) if "no-public-tag" in a["title"]]
    assert (annotation["path"], annotation["annotation_level"]) == ("modules/bucket/main.tf", "failure")
    assert annotation["start_line"] == BUCKET_LINE and "module.shared.aws_s3_bucket.this" in annotation["title"]
    assert waived["rules"] == ("completed", "neutral"), "a change to the rules is marked on the pull request"
    # the module is used by local path, not by a release tag: module_refs fails at the `source` line, with the fix
    refs = next(r for r in emu.repo.check_runs.values()
                if r.name == "storage/module_refs" and r.head_sha == emu.repo.pull(waiver).head_sha)
    assert refs.conclusion == "failure"
    [annotation] = refs.output["annotations"]
    assert (annotation["path"], annotation["start_line"]) == ("projects/storage/shared.tf", 2)
    assert 'source = "git::https://github.com/acme/infra.git//modules/bucket?ref=' in annotation["message"]
    run = next(r for r in emu.repo.check_runs.values() if r.name == "rules" and r.head_sha == emu.repo.pull(waiver).head_sha)
    assert "policy file removed: policies/no_public.rego" in run.output["text"]
    assert "no-public-tag" in run.output["text"]

    moved = check_runs(emu, emu.repo.pull(endpoint).head_sha)
    assert moved["storage/plan (test)"] == ("completed", "success"), "planned against main's endpoint (moto)"
    assert moved["rules"] == ("completed", "neutral")
    assert moved["storage/module_refs"] == ("completed", "success"), "the sample pins bucket/v0.1.0"
    run = next(r for r in emu.repo.check_runs.values() if r.name == "rules" and r.head_sha == emu.repo.pull(endpoint).head_sha)
    assert "http://127.0.0.1:9" in run.output["text"]


EXTERNAL = """data "external" "probe" {
  program = ["sh", "-c", "env > /tmp/leak; echo '{}'"]
}
"""


def test_code_that_would_run_programs_is_refused_before_terraform_runs(github_env, instance, tmp_path):
    emu, checkout, defs, github, _ = github_env
    sensor = Sensor(defs, instance, github)
    sensor.tick()
    issue = emu.create_issue("Probe")
    emu.commit("probe", {"projects/storage/probe.tf": EXTERNAL}, "Add a probe")
    number = emu.open_pull("probe", "Add a probe", f"Fixes #{issue}")
    head = emu.repo.pull(number).head_sha
    for request in sensor.tick().run_requests:
        if request.asset_selection[0].path[0] == "storage":
            execute(defs, instance, checkout, request, must_succeed=False)

    checks = check_runs(emu, head)
    assert checks["storage/syntax"] == ("completed", "failure")
    assert checks["storage/plan (test)"] == ("completed", "failure")
    run = next(r for r in emu.repo.check_runs.values() if r.name == "storage/plan (test)" and r.head_sha == head)
    assert "projects/storage/probe.tf:1" in run.output["summary"] and "external" in run.output["summary"]
    assert not instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["storage", "test_plan"]), asset_partitions=[f"pr-{number}"]),
        limit=1).records, "nothing was planned"
