"""Which commit a run works on: the run's tags, else the change's pull request; never the working copy."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from gitops_pipelines.core.config import GitHubSettings
from gitops_pipelines.core.errors import PlanRefused, UsageError
from gitops_pipelines.core.promotion.commits import (AFTER_MERGE, PR_TIME, change_commits, deploys_nothing,
                                                     main_commit, untrusted)
from gitops_pipelines_dev.infra import git

HEAD, MERGE, BASE = "a" * 40, "b" * 40, "c" * 40


@dataclass
class Pull:
    head_sha: str
    merged: bool = False
    merge_commit_sha: str | None = None
    base_sha: str = BASE
    fork: bool = False
    base_ref: str = "main"
    head_repository: str | None = "acme/infra"


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


def test_scheduled_runs_check_the_tip_of_origins_main_not_the_working_copy(tmp_path):
    origin, clone = tmp_path / "origin", tmp_path / "clone"
    origin.mkdir()
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    git(origin, "init", "-q", "-b", "main")
    (origin / "a.tf").write_text("# one\n")
    git(origin, "add", "-A")
    git(origin, *ident, "commit", "-q", "-m", "one")
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    (origin / "a.tf").write_text("# two\n")
    git(origin, *ident, "commit", "-q", "-am", "two")  # main moved after the clone was made
    assert main_commit(clone, "main") == git(origin, "rev-parse", "HEAD") != git(clone, "rev-parse", "HEAD")
    with pytest.raises(UsageError, match="github.main_branch"):
        main_commit(clone, "trunk")


# -- forks and other bases ------------------------------------------------------------------------------------------
def rules(**github):
    """Just what the fork and base rules read of gitops.yaml: its `github:` section."""
    return SimpleNamespace(github=GitHubSettings(repository="acme/infra", **github))


def test_the_fork_flag_and_the_base_come_from_the_tags_or_the_pull_request():
    tagged = change_commits("pr-4", head_sha=HEAD, fork=True, base_ref="develop", pull=None)
    assert (tagged.fork, tagged.base_ref) == (True, "develop")
    ui = change_commits("pr-4", head_sha=None, pull=lambda n: Pull(HEAD, fork=True, base_ref="develop",
                                                                    head_repository="eve/infra"))
    assert (ui.fork, ui.base_ref, ui.head_repository) == (True, "develop", "eve/infra")
    # once the pull request is read, a tag cannot make a fork's head trusted
    relabelled = change_commits("pr-4", head_sha=HEAD, fork=False, pull=lambda n: Pull(HEAD, fork=True))
    assert relabelled.fork
    assert not change_commits("pr-4", head_sha=HEAD, pull=lambda n: Pull(HEAD)).fork


def test_a_forks_head_is_refused_naming_the_fork_and_what_a_maintainer_can_do():
    commits = change_commits("pr-4", head_sha=None, pull=lambda n: Pull(HEAD, fork=True, head_repository="eve/infra"))
    reason = untrusted(commits, rules())
    assert reason.startswith("pr-4 comes from the fork eve/infra, not from acme/infra")
    assert "not planned" in reason and "`github.allow_fork_prs: true`" in reason and HEAD[:12] in reason
    deleted = change_commits("pr-4", head_sha=None, pull=lambda n: Pull(HEAD, fork=True, head_repository=None))
    assert "a fork (since deleted, or unknown)" in untrusted(deleted, rules())
    assert untrusted(commits, rules(allow_fork_prs=True)) is None
    assert untrusted(change_commits("pr-4", head_sha=None, pull=lambda n: Pull(HEAD)), rules()) is None


def test_fork_pull_requests_are_not_allowed_unless_gitops_yaml_says_so():
    assert GitHubSettings(repository="acme/infra").allow_fork_prs is False
    assert GitHubSettings.model_validate({"repository": "acme/infra", "allow_fork_prs": True}).allow_fork_prs


def test_a_pull_request_into_another_branch_is_told_merging_deploys_nothing():
    elsewhere = change_commits("pr-4", head_sha=None, pull=lambda n: Pull(HEAD, base_ref="develop"))
    note = deploys_nothing(elsewhere, rules())
    assert note.startswith("pr-4 merges into 'develop', not 'main'") and "deploys nothing" in note
    assert deploys_nothing(change_commits("pr-4", head_sha=None, pull=lambda n: Pull(HEAD)), rules()) is None
    assert deploys_nothing(elsewhere, rules(main_branch="develop")) is None
    assert deploys_nothing(elsewhere, SimpleNamespace(github=None)) is None
