"""Which commit a run works on: the run's tags, else the change's pull request; never the working copy."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from gitops_pipelines.core.errors import PlanRefused, UsageError
from gitops_pipelines.core.promotion.commits import AFTER_MERGE, PR_TIME, change_commits, main_commit

HEAD, MERGE, BASE = "a" * 40, "b" * 40, "c" * 40


@dataclass
class Pull:
    head_sha: str
    merged: bool = False
    merge_commit_sha: str | None = None
    base_sha: str = BASE


def test_the_sensors_tags_are_enough_and_github_is_not_asked():
    asked = []
    commits = change_commits("pr-4", head_sha=HEAD, merge_sha=MERGE, pull=lambda n: asked.append(n))
    assert (commits.for_phase(PR_TIME), commits.for_phase(AFTER_MERGE)) == (HEAD, MERGE) and asked == []


def test_a_ui_launch_takes_the_head_and_the_merge_commit_from_the_pull_request():
    commits = change_commits("pr-4", head_sha=None, pull=lambda n: Pull(HEAD, True, MERGE) if n == 4 else None)
    assert commits.head_sha == HEAD and commits.for_phase(AFTER_MERGE) == MERGE and commits.base_sha == BASE


def test_a_merge_time_stage_of_an_open_pull_request_is_refused():
    commits = change_commits("pr-4", head_sha=None, pull=lambda n: Pull(HEAD, False, MERGE))
    assert commits.for_phase(PR_TIME) == HEAD
    with pytest.raises(PlanRefused, match="pr-4 is not merged .*merge the pull request first"):
        commits.for_phase(AFTER_MERGE)


def test_without_tags_and_without_github_the_launch_says_how_to_name_the_commit():
    with pytest.raises(UsageError, match="gitops/head_sha=<the PR head>") as caught:
        change_commits("pr-4", head_sha=None, pull=None)
    assert caught.value.exit_code == 2
    with pytest.raises(UsageError, match="is not a change"):
        change_commits("nightly", head_sha=None, pull=None)


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_scheduled_runs_check_the_tip_of_origins_main_not_the_working_copy(tmp_path):
    origin, clone = tmp_path / "origin", tmp_path / "clone"
    origin.mkdir()
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    _git(origin, "init", "-q", "-b", "main")
    (origin / "a.tf").write_text("# one\n")
    _git(origin, "add", "-A")
    _git(origin, *ident, "commit", "-q", "-m", "one")
    _git(tmp_path, "clone", "-q", str(origin), str(clone))
    (origin / "a.tf").write_text("# two\n")
    _git(origin, *ident, "commit", "-q", "-am", "two")  # main moved after the clone was made
    assert main_commit(clone, "main") == _git(origin, "rev-parse", "HEAD") != _git(clone, "rev-parse", "HEAD")
    with pytest.raises(UsageError, match="github.main_branch"):
        main_commit(clone, "trunk")
