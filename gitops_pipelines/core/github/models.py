"""What the gateway returns: frozen dataclasses built from GitHub's JSON, never PyGithub objects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    body: str
    state: str  # open | closed
    merged: bool
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    author: str
    labels: tuple[str, ...] = ()
    draft: bool = False
    updated_at: str | None = None
    merge_commit_sha: str | None = None  # the merge commit once merged (runs after a merge are bound to it)
    head_repository: str | None = None  # owner/name of the repository the head branch is in; None: a deleted fork
    fork: bool = False  # the head is not in the base repository (or its repository is gone): its code is untrusted

    @property
    def change(self) -> str:
        """The Dagster partition key of this pull request."""
        return f"pr-{self.number}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PullRequest":
        """From either REST shape: `pull-request` (GET one) or `pull-request-simple` (the list)."""
        merged = data.get("merged")
        if merged is None:  # the list shape has no `merged`; merged_at says the same
            merged = data.get("merged_at") is not None
        head_repository = (data["head"].get("repo") or {}).get("full_name")
        base_repository = (data["base"].get("repo") or {}).get("full_name")
        return cls(
            number=int(data["number"]), title=data.get("title") or "", body=data.get("body") or "",
            state=data.get("state") or "open", merged=bool(merged),
            head_sha=data["head"]["sha"], head_ref=data["head"]["ref"],
            base_sha=data["base"]["sha"], base_ref=data["base"]["ref"],
            author=(data.get("user") or {}).get("login") or "",
            labels=tuple(label["name"] for label in data.get("labels") or [] if isinstance(label, dict)),
            draft=bool(data.get("draft")), updated_at=data.get("updated_at"),
            merge_commit_sha=data.get("merge_commit_sha") if merged else None,
            head_repository=head_repository, fork=is_fork(head_repository, base_repository),
        )


def is_fork(head_repository: str | None, base_repository: str | None) -> bool:
    """Whether a pull request's head lives outside its base repository; GitHub sends a null head repository once
    the fork was deleted, and an unknown one is treated as foreign too."""
    return head_repository is None or base_repository is None or head_repository.lower() != base_repository.lower()


@dataclass(frozen=True)
class Review:
    reviewer: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str | None
    submitted_at: str | None
    id: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Review":
        return cls(reviewer=(data.get("user") or {}).get("login") or "", state=(data.get("state") or "").upper(),
                   commit_id=data.get("commit_id"), submitted_at=data.get("submitted_at"), id=data.get("id"))


@dataclass(frozen=True)
class Approval:
    """A pull request approved at one commit, and by whom."""

    commit_id: str
    approvers: tuple[str, ...]

    @property
    def approved_by(self) -> str:
        return ", ".join(self.approvers)


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str
    author: str
    state: str  # open | closed

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Issue":
        return cls(int(data["number"]), data.get("title") or "", data.get("body") or "",
                   (data.get("user") or {}).get("login") or "", data.get("state") or "open")


@dataclass(frozen=True)
class Release:
    id: int
    tag: str
    name: str
    body: str
    target: str
    html_url: str
    draft: bool = False
    prerelease: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Release":
        return cls(id=data["id"], tag=data["tag_name"], name=data.get("name") or "", body=data.get("body") or "",
                   target=data.get("target_commitish") or "", html_url=data.get("html_url") or "",
                   draft=bool(data.get("draft")), prerelease=bool(data.get("prerelease")))


@dataclass(frozen=True)
class Tag:
    name: str
    sha: str


@dataclass(frozen=True)
class RateBudget:
    remaining: int
    limit: int
    reset: int | None = None  # epoch seconds

    def __str__(self) -> str:
        return f"{self.remaining}/{self.limit}"


@dataclass(frozen=True)
class CheckOutcome:
    """What a check run should say: conclusion (success | failure | neutral ...), title and markdown summary."""

    conclusion: str
    title: str
    summary: str
    text: str | None = None
    annotations: tuple[dict, ...] = ()


@dataclass(frozen=True)
class DeploymentStatus:
    """One step of a deployment: queued, in_progress, success, failure, error, inactive or pending."""

    id: int
    state: str
    description: str = ""
    log_url: str = ""
    environment_url: str = ""
    environment: str = ""
    creator: str = ""
    created_at: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DeploymentStatus":
        return cls(id=int(data["id"]), state=data.get("state") or "", description=data.get("description") or "",
                   log_url=data.get("log_url") or data.get("target_url") or "",
                   environment_url=data.get("environment_url") or "", environment=data.get("environment") or "",
                   creator=(data.get("creator") or {}).get("login") or "", created_at=data.get("created_at"))


@dataclass(frozen=True)
class Deployment:
    """A GitHub deployment of one commit to one environment; statuses oldest first, when they were asked for."""

    id: int
    sha: str
    ref: str
    environment: str
    task: str = "deploy"
    description: str = ""
    payload: dict[str, Any] = field(default_factory=dict, hash=False)
    creator: str = ""
    production: bool = False
    transient: bool = False
    created_at: str | None = None
    statuses: tuple[DeploymentStatus, ...] = ()

    @property
    def state(self) -> str | None:
        """The latest status (None: none yet, or statuses were not read)."""
        return self.statuses[-1].state if self.statuses else None

    @classmethod
    def from_json(cls, data: dict[str, Any], statuses: tuple[DeploymentStatus, ...] = ()) -> "Deployment":
        payload = data.get("payload")
        if isinstance(payload, str):  # GitHub accepts a JSON string too and may answer with it as sent
            try:
                payload = json.loads(payload) if payload.strip() else {}
            except ValueError:
                payload = {}
        return cls(id=int(data["id"]), sha=data.get("sha") or "", ref=data.get("ref") or "",
                   environment=data.get("environment") or "", task=data.get("task") or "deploy",
                   description=data.get("description") or "",
                   payload=payload if isinstance(payload, dict) else {},
                   creator=(data.get("creator") or {}).get("login") or "",
                   production=bool(data.get("production_environment")),
                   transient=bool(data.get("transient_environment")), created_at=data.get("created_at"),
                   statuses=statuses)
