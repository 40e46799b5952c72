"""The commit a run works on, known before anything runs: from the run's own facts (the sensor's tags), else from
the change's record on GitHub (the PR head for PR stages, the merge commit after the merge). Nothing ever runs on
whatever the working copy happens to hold; a launch whose commit cannot be known is refused with how to fix it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_pipelines.core.errors import PlanRefused, UsageError
from gitops_pipelines.core.git import git_output, run_git
from gitops_pipelines.core.vocabulary import pr_number

# When a stage runs: on the pull request's head, or on the merge commit once the change is merged.
PR_TIME, AFTER_MERGE = "pr_time", "after_merge"

HOW_TO_TAG = ("launch it with the run tags gitops/head_sha=<the PR head> (and gitops/merge_sha=<the merge commit> "
              "after the merge), or add a `github:` section to gitops.yaml so the change's record can be read")


@dataclass(frozen=True)
class ChangeCommits:
    """A change's commits: the PR head that was checked and approved, and the merge commit once merged."""

    change: str
    head_sha: str
    merge_sha: str | None = None
    base_sha: str | None = None

    def for_phase(self, phase: str) -> str:
        """The commit a stage of this phase runs on."""
        if phase == PR_TIME:
            return self.head_sha
        if not self.merge_sha:
            raise PlanRefused(f"{self.change} is not merged (head {self.head_sha[:12]}): a stage that runs after the "
                              "merge has no commit to run on yet; merge the pull request first")
        return self.merge_sha


def change_commits(change: str, *, head_sha: str | None, merge_sha: str | None = None, base_sha: str | None = None,
                   pull: Callable[[int], Any] | None = None) -> ChangeCommits:
    """The change's commits from the run's tags; what the tags do not say is read from the pull request (`pull`,
    e.g. GitHubGateway.pull), which then also tells whether it was merged."""
    if head_sha and merge_sha:
        return ChangeCommits(change, head_sha, merge_sha, base_sha)
    number = pr_number(change)
    if number is None:
        raise UsageError(f"{change!r} is not a change (pr-<number>): cannot know which commit to run on; {HOW_TO_TAG}")
    if pull is None:
        if head_sha:
            return ChangeCommits(change, head_sha, None, base_sha)
        raise UsageError(f"{change}: the run does not say which commit it is for and GitHub is not configured; "
                         f"{HOW_TO_TAG}")
    pr = pull(number)
    merged = bool(getattr(pr, "merged", False)) and getattr(pr, "merge_commit_sha", None)
    return ChangeCommits(change, head_sha or pr.head_sha, merge_sha or (pr.merge_commit_sha if merged else None),
                         base_sha or getattr(pr, "base_sha", None))


def main_commit(repo: Path, branch: str) -> str:
    """The tip of the main branch on the repository's origin (fetched now), else of the local branch: the code a
    scheduled run such as drift checks."""
    run_git(repo, "fetch", "--quiet", "origin", branch)
    sha = git_output(repo, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}^{{commit}}") or \
        git_output(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}")
    if not sha:
        raise UsageError(f"no branch {branch!r} in {repo} or its origin: set github.main_branch in gitops.yaml to the "
                         "branch that is deployed")
    return sha
