"""What the emulator remembers beyond git: pull requests, issues, reviews, comments, checks, statuses, releases,
deployments and their statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone


def now() -> str:
    """The current time as GitHub writes it (`2026-11-02T10:00:00Z`)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(iso: str) -> int:
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


@dataclass
class Issue:
    """An issue or the issue half of a pull request (they share one number sequence, as on GitHub)."""

    id: int
    number: int
    title: str
    body: str | None
    user: str
    state: str = "open"
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    closed_at: str | None = None
    labels: list[str] = field(default_factory=list)  # label names, in the order they were added
    state_reason: str | None = None  # completed, not_planned, duplicate when closed; reopened after a reopen
    closed_by: str | None = None


@dataclass
class Label:
    id: int
    name: str
    color: str
    description: str | None = None
    default: bool = False


@dataclass
class PullRequest:
    id: int
    issue: Issue
    head: str  # branch name
    base: str
    head_sha: str  # last known; while open it follows the branch
    base_sha: str
    head_repo: str | None = None  # owner/name of the fork the head branch is in; None: this repository
    draft: bool = False
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None

    @property
    def number(self) -> int:
        return self.issue.number

    @property
    def state(self) -> str:
        return self.issue.state


@dataclass
class Review:
    id: int
    pull_number: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
    commit_id: str
    body: str = ""
    submitted_at: str = field(default_factory=now)


@dataclass
class Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)


@dataclass
class CheckRun:
    id: int
    suite_id: int
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    output: dict = field(default_factory=dict)


@dataclass
class CommitStatus:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)


@dataclass
class Release:
    id: int
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    author: str
    created_at: str = field(default_factory=now)
    published_at: str | None = None
    make_latest: str = "true"  # true, false or legacy, as the client last sent it
    updated_at: str | None = None  # set by an edit; until then GitHub reports published_at (or created_at)


@dataclass
class DeploymentStatus:
    id: int
    state: str  # error, failure, inactive, in_progress, queued, pending, success
    creator: str
    description: str = ""
    environment: str = ""
    log_url: str = ""  # GitHub sets target_url to the same value
    environment_url: str = ""
    created_at: str = field(default_factory=now)


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    environment: str
    creator: str
    task: str = "deploy"
    payload: dict | str = field(default_factory=dict)
    description: str | None = None
    transient_environment: bool = False
    production_environment: bool = False
    original_environment: str = ""
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    statuses: list[DeploymentStatus] = field(default_factory=list)  # oldest first

    @property
    def state(self) -> str | None:
        return self.statuses[-1].state if self.statuses else None
