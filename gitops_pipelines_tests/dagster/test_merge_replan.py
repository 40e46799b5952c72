"""After a merge, main may hold more than what was approved. The deploy then re-plans on the merge commit, and the
new plan is applied without a person only when its resource changes are those of the approved plan; otherwise a
person reads the diff and launches the deploy with the new plan_id. Real instance, Terraform and moto."""

from __future__ import annotations

import dagster as dg
import pytest

from gitops_pipelines.defs.run_tags import change_tags
from gitops_pipelines_dev.infra import git
from gitops_pipelines_tests.dagster.conftest import failure_messages, latest_metadata

pytestmark = pytest.mark.slow

MAIN_TF = "projects/storage/main.tf"
IDENT = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def _commit(repo, path: str, text: str, message: str) -> str:
    (repo / path).write_text(text)
    git(repo, *IDENT, "commit", "-q", "-am", message)
    return git(repo, "rev-parse", "HEAD")


def test_main_moved_under_the_unit_replans_and_applies_only_identical_changes(gitops_defs, instance, infra_root,
                                                                              clouds):
    start = git(infra_root, "rev-parse", "HEAD")
    original = (infra_root / MAIN_TF).read_text()
    instance.add_dynamic_partitions("changes", ["pr-1", "pr-2"])

    def run(job, keys, change, head, merge=None, run_config=None):
        return gitops_defs.resolve_job_def(job).execute_in_process(
            instance=instance, partition_key=change, raise_on_error=False, run_config=run_config,
            tags=change_tags(head_sha=head, merge_sha=merge, triggered_by=f"merge of {change}"),
            asset_selection=[dg.AssetKey(["storage", k]) for k in keys])

    try:
        # pr-1 is checked and planned at its head; before it merges, main gains a comment in the unit
        assert run("pr_checks", ["syntax", "ephemeral_test", "test_plan"], "pr-1", start).success
        approved = latest_metadata(instance, "storage/test_plan", "pr-1")["plan_id"]
        merge1 = _commit(infra_root, MAIN_TF, original + "# reviewed layout\n", "merge pr-1 into a moved main")
        assert run("merge", ["test_deploy"], "pr-1", start, merge1).success
        deployed = latest_metadata(instance, "storage/test_deploy", "pr-1")
        assert deployed["approved_plan_id"] == approved and deployed["plan_id"] != approved
        assert "main moved under the unit" in deployed["replanned"]
        assert "identical" in deployed["result"] and "acme-test-artifacts" in {
            b["Name"] for b in clouds["test"].boto3_client("s3").list_buckets()["Buckets"]}

        # pr-2 is planned at merge1; main then changes a tag of the bucket: the re-plan differs, a person decides
        assert run("pr_checks", ["syntax", "ephemeral_test", "test_plan"], "pr-2", merge1).success
        assert 'team        = "platform"' in original
        merge2 = _commit(infra_root, MAIN_TF, original.replace('team        = "platform"', 'team        = "storage"'),
                         "merge pr-2 into a main whose bucket tag moved")
        waiting = run("merge", ["test_deploy"], "pr-2", merge1, merge2)
        assert not waiting.success
        why = failure_messages(waiting)
        assert "nothing was applied" in why and "A person decides" in why, why
        new_plan = why.split("with plan_id ")[1].split(";")[0].strip()
        assert len(new_plan) == 64

        wrong = run("merge", ["test_deploy"], "pr-2", merge1, merge2,
                    {"ops": {"storage__test_deploy": {"config": {"plan_id": "f" * 64, "approved_by": "alice"}}}})
        assert not wrong.success and new_plan in failure_messages(wrong)
        chosen = run("merge", ["test_deploy"], "pr-2", merge1, merge2, {"ops": {"storage__test_deploy": {
            "config": {"plan_id": new_plan, "approved_by": "alice", "reason": "the tag change is wanted"}}}})
        assert chosen.success, failure_messages(chosen)
        deployed = latest_metadata(instance, "storage/test_deploy", "pr-2")
        assert deployed["plan_id"] == new_plan and deployed["approved_by"] == "alice"
        # the approved plan changed nothing (pr-1 made the bucket); the re-plan updates its tag
        assert deployed["reason"] == "the tag change is wanted"
        assert "`module.artifacts.aws_s3_bucket.this` | only in the new plan: `update`" in deployed["diff"]
    finally:
        git(infra_root, "reset", "-q", "--hard", start)  # the session's shared repository
