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
    """A change's commits: the PR head that was checked and approved, and the merge commit once merged; whether the
    head came from a fork, and the branch the pull request merges into."""

    change: str
    head_sha: str
    merge_sha: str | None = None
    base_sha: str | None = None
    fork: bool = False
    base_ref: str | None = None
    head_repository: str | None = None  # owner/name of the head's repository, when the pull request was read

    def for_phase(self, phase: str) -> str:
        """The commit a stage of this phase runs on."""
        if phase == PR_TIME:
            return self.head_sha
        if not self.merge_sha:
            raise PlanRefused(f"{self.change} is not merged (head {self.head_sha[:12]}): a stage that runs after the "
                              "merge has no commit to run on yet; merge the pull request first")
        return self.merge_sha


def change_commits(change: str, *, head_sha: str | None, merge_sha: str | None = None, base_sha: str | None = None,
                   fork: bool | None = None, base_ref: str | None = None,
                   pull: Callable[[int], Any] | None = None) -> ChangeCommits:
    """The change's commits from the run's tags; what the tags do not say is read from the pull request (`pull`,
    e.g. GitHubGateway.pull), which then also tells whether it was merged. A head from a fork stays one whatever
    the tags say: once the pull request is read, its own head repository decides too."""
    if head_sha and merge_sha:  # after the merge: the code is the base branch's, nothing to look up
        return ChangeCommits(change, head_sha, merge_sha, base_sha, bool(fork), base_ref)
    number = pr_number(change)
    if number is None:
        raise UsageError(f"{change!r} is not a change (pr-<number>): cannot know which commit to run on; {HOW_TO_TAG}")
    if pull is None:
        if head_sha:
            return ChangeCommits(change, head_sha, None, base_sha, bool(fork), base_ref)
        raise UsageError(f"{change}: the run does not say which commit it is for and GitHub is not configured; "
                         f"{HOW_TO_TAG}")
    pr = pull(number)
    merged = bool(getattr(pr, "merged", False)) and getattr(pr, "merge_commit_sha", None)
    return ChangeCommits(change, head_sha or pr.head_sha, merge_sha or (pr.merge_commit_sha if merged else None),
                         base_sha or getattr(pr, "base_sha", None), bool(fork) or bool(getattr(pr, "fork", False)),
                         base_ref or getattr(pr, "base_ref", None), getattr(pr, "head_repository", None))


def untrusted(commits: ChangeCommits, config: Any) -> str | None:
    """Why the head's code must not run (a fork's pull request, and gitops.yaml does not allow them), else None.
    `config`: the rules (main's gitops.yaml), never the head's own, which could allow itself."""
    github = getattr(config, "github", None)
    if not commits.fork or (github is not None and github.allow_fork_prs):
        return None
    fork = f"the fork {commits.head_repository}" if commits.head_repository else "a fork (since deleted, or unknown)"
    base = github.repository if github is not None else "this repository"
    return (f"{commits.change} comes from {fork}, not from {base} (head {commits.head_sha[:12]}): pull requests "
            "from forks are not planned or tested, so their code never runs here with this repository's "
            "credentials. A maintainer can allow them by setting `github.allow_fork_prs: true` in gitops.yaml on "
            "the main branch; or push the branch to the repository itself and open the pull request from there.")


def deploys_nothing(commits: ChangeCommits, config: Any) -> str | None:
    """A note for a pull request into a branch that is not the deployed one (github.main_branch), else None."""
    github = getattr(config, "github", None)
    if github is None or not commits.base_ref or commits.base_ref == github.main_branch:
        return None
    return (f"{commits.change} merges into {commits.base_ref!r}, not {github.main_branch!r}: it is checked, but "
            f"merging it deploys nothing (only changes merged into {github.main_branch!r} are deployed)")


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
