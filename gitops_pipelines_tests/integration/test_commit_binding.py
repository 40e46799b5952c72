"""A stage bound to a commit runs on that commit's code, not on whatever the working copy holds."""

from __future__ import annotations

import pytest

from gitops_pipelines.core.git import head_sha
from gitops_pipelines_tests.fixtures.infra_repo import git, make_infra_repo
from gitops_pipelines_tests.integration.test_cli import Cli

pytestmark = pytest.mark.slow


def test_syntax_and_plan_binding_follow_the_commit(cloud_env, clouds, tmp_path):
    repo = make_infra_repo(tmp_path / "repo")
    good = head_sha(repo)
    (repo / "projects" / "storage" / "broken.tf").write_text('resource "aws_s3_bucket" "x" {\n')
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "broken")
    cli = Cli(repo)

    broken = cli.json("syntax", "storage", code=1)
    assert [d["file"] for d in broken["diagnostics"] if d["severity"] == "error"] == ["broken.tf"]

    at_good = cli.json("syntax", "storage", "--commit", good)
    assert at_good["passed"], at_good

    planned = cli.json("plan", "storage", "--env", "test", "--change", "pr-9", "--commit", good)
    assert planned["binding"]["head_sha"] == good
    listed = cli.json("plans", "list")
    assert [p["plan_id"] for p in listed] == [planned["plan_id"]], "the plan lands in the repository's one store"
