"""Plans bound to the code by content, on real Terraform against moto: after main moved under the unit the merge
commit is planned again, and the diff to the approved plan decides whether a person has to look.

A small repository of its own (one S3 bucket, no committed lock file): the pull request's head A is planned and
approved; main then moves under the unit, once by a comment only (B) and once by a tag (C).
"""

from __future__ import annotations

import pytest

from gitops_pipelines.core import stages
from gitops_pipelines.core.changes.source import source_hash
from gitops_pipelines.core.promotion import after_replan, decide_after_merge
from gitops_pipelines.core.promotion.replan import MAIN_MOVED
from gitops_pipelines.core.workspace import open_workspace
from gitops_pipelines_tests.conftest import reset_clouds
from gitops_pipelines_tests.fixtures.site_repo import GITOPS, commit, new_repo
from gitops_pipelines_tests.fixtures.site_repo import main_tf as site_main_tf

pytestmark = pytest.mark.slow

PLAN_KEY = "replan-test-key"
BUCKET = "replan-site"
UNIT = "projects/site/main.tf"


def main_tf(tags: str = 'env = "test"', comment: str = "") -> str:
    return site_main_tf(BUCKET, f"  tags = {{\n    {tags}\n  }}\n", comment)


@pytest.fixture(scope="module")
def repo(tmp_path_factory, moto_servers, cloud_env):
    """Commits A (the approved head), B (a comment added) and C (a tag changed); the plan of A, made once."""
    reset_clouds(moto_servers)
    root = new_repo(tmp_path_factory.mktemp("replan") / "repo")
    shas = {"A": commit(root, {"gitops.yaml": GITOPS, ".gitignore": ".gitops/\n", UNIT: main_tf()}, "site")}
    shas["other"] = commit(root, {"README.md": "not the unit\n"}, "readme")
    shas["B"] = commit(root, {UNIT: main_tf(comment="# serves the site; a comment changes no resource\n")},
                       "comment")
    shas["C"] = commit(root, {UNIT: main_tf(tags='env = "staging"')}, "retag")
    commit(root, {"README.md": "main moved on\n"}, "later")  # so every commit runs on its own worktree

    ws = workspace(root, shas["A"])
    approved = stages.plan(ws, ws.config.unit("site"), "test", "pr-1")
    return {"root": root, **shas, "approved": approved.record,
            "approved_json": ws.store.get(approved.plan_id).plan_json(),
            "lock": ws.store.get(approved.plan_id).lock_file()}


def workspace(root, sha: str):
    return open_workspace(root / "gitops.yaml", plan_key=PLAN_KEY, commit=sha)


def merge_hash(repo, sha: str) -> str:
    """The unit's source hash on a merge commit, as the deploy sees it before Terraform runs there."""
    ws = workspace(repo["root"], sha)
    return source_hash(ws.config, ws.config.unit("site"), ws.config.root, lock_file=repo["lock"])


def replan(repo, sha: str):
    ws = workspace(repo["root"], sha)
    new = stages.plan(ws, ws.config.unit("site"), "test", "pr-1", head_sha=repo["A"])
    return new.record, ws.store.get(new.plan_id).plan_json()


def test_the_plan_is_bound_to_its_source_and_a_change_elsewhere_keeps_it(repo):
    approved = repo["approved"]
    assert approved.binding.commit == approved.binding.head_sha == repo["A"]
    assert approved.binding.source_hash and repo["lock"] is not None
    # the checkout of A has the lock file `init` wrote; a merge commit without one counts the plan's
    assert merge_hash(repo, repo["A"]) == approved.binding.source_hash
    assert merge_hash(repo, repo["other"]) == approved.binding.source_hash
    decision = decide_after_merge(approved, merge_hash(repo, repo["other"]), stale=False)
    assert decision.outcome == "apply_stored"


def test_a_comment_under_the_unit_replans_to_identical_resource_changes(repo, clouds):
    approved = repo["approved"]
    moved = merge_hash(repo, repo["B"])
    assert moved != approved.binding.source_hash
    decision = decide_after_merge(approved, moved, stale=False, merge_commit=repo["B"])
    assert (decision.outcome, decision.reasons) == ("replan", (MAIN_MOVED,))

    new, new_json = replan(repo, repo["B"])

    assert new.plan_id != approved.plan_id
    assert (new.binding.commit, new.binding.head_sha, new.binding.source_hash) == (repo["B"], repo["A"], moved)
    outcome, diff = replanned = after_replan(repo["approved_json"], new_json)
    assert outcome == "apply_new" and diff.identical, diff.markdown()
    assert new.short_id in replanned.message(approved, new)


def test_a_changed_tag_waits_for_a_person_and_names_the_attribute(repo, clouds):
    approved = repo["approved"]
    moved = merge_hash(repo, repo["C"])
    assert decide_after_merge(approved, moved, stale=False).outcome == "replan"

    new, new_json = replan(repo, repo["C"])

    replanned = after_replan(repo["approved_json"], new_json)
    outcome, diff = replanned
    assert outcome == "wait_for_person" and diff.changed == ["aws_s3_bucket.site"]
    paths = {a.path: (a.approved, a.new) for a in diff.resource("aws_s3_bucket.site").attributes}
    assert paths["tags.env"] == ("test", "staging")
    assert "`tags.env`" in diff.markdown() and '`"staging"`' in diff.markdown()
    message = replanned.message(approved, new)
    assert f"plan_id {new.plan_id}" in message and "site/test_deploy for pr-1" in message
