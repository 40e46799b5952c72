"""GitHub webhook payloads parsed into the small frozen models the sensors consume.

Parsing is apart from handling (as in Atlantis's event_parser): `parse_event` only turns an event name and its JSON
payload into a model; what to run for it is the sensors' business. Events we do not handle parse to None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, ValidationError

from gitops_pipelines.core.github.models import is_fork

ZERO_SHA = "0" * 40  # what GitHub sends as `before` for a created ref and as `after` for a deleted one
_TAG_PREFIX = "refs/tags/"
_BRANCH_PREFIX = "refs/heads/"

ReviewState = Literal["approved", "changes_requested", "commented", "dismissed"]


class InvalidEventPayload(ValueError):
    """A payload of an event we handle lacks a field we need, or the field has the wrong type."""

    def __init__(self, event: str, field: str, problem: str = "is missing"):
        self.event = event
        self.field = field
        super().__init__(f"GitHub {event!r} webhook payload: field {field!r} {problem}")


class _Event(BaseModel):
    # strict: GitHub sends proper JSON types; a string where a number belongs means the payload is not GitHub's.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class PullRequestEvent(_Event):
    """A `pull_request` delivery: opened, synchronize, closed (merged or not), reopened, labeled, ..."""

    action: str
    number: int
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    merged: bool
    merge_commit_sha: str | None
    title: str
    body: str | None
    author: str
    repository: str
    head_repository: str | None  # where the head branch is; None once a fork was deleted
    fork: bool  # the head is not in `repository` (the base): its code is not trusted
    labels: tuple[str, ...] = ()

    @property
    def partition_key(self) -> str:
        """The Dagster partition of this change."""
        return f"pr-{self.number}"


class ReviewEvent(_Event):
    """A `pull_request_review` delivery. `commit_id` is the commit reviewed: an approval binds to it alone."""

    action: str
    number: int
    state: ReviewState
    reviewer: str
    commit_id: str
    submitted_at: datetime | None
    head_sha: str
    base_ref: str
    repository: str
    head_repository: str | None
    fork: bool

    @property
    def partition_key(self) -> str:
        return f"pr-{self.number}"


class PushEvent(_Event):
    """A `push` delivery to a branch or a tag (created, updated or deleted)."""

    ref: str
    before: str
    after: str
    created: bool
    deleted: bool
    forced: bool
    is_tag: bool
    tag: str | None
    branch: str | None
    repository: str

    @property
    def name(self) -> str:
        """The tag or branch name (the ref itself for any other kind of ref)."""
        return self.tag or self.branch or self.ref


class ReleaseEvent(_Event):
    """A `release` delivery: created, published, ..."""

    action: str
    release_id: int
    tag_name: str
    target_commitish: str
    name: str | None
    draft: bool
    prerelease: bool
    html_url: str
    author: str
    published_at: datetime | None
    repository: str


class PingEvent(_Event):
    """GitHub's `ping`, sent when a hook is created: proves the secret and the URL work."""

    zen: str
    hook_id: int
    app_id: int | None
    repository: str | None


Event = Union[PullRequestEvent, ReviewEvent, PushEvent, ReleaseEvent, PingEvent]


class _Fields:
    """Dotted-path access into one payload; every miss names the event and the full path."""

    _MISSING = object()

    def __init__(self, event: str, payload: Mapping[str, Any]):
        self.event = event
        self.payload = payload

    def _lookup(self, path: str) -> Any:
        node: Any = self.payload
        for key in path.split("."):
            if not isinstance(node, Mapping) or key not in node:
                return self._MISSING
            node = node[key]
        return node

    def req(self, path: str) -> Any:
        """The value at `path`; null is allowed only where the model says so."""
        value = self._lookup(path)
        if value is self._MISSING:
            raise InvalidEventPayload(self.event, path)
        return value

    def opt(self, path: str, default: Any = None) -> Any:
        value = self._lookup(path)
        return default if value is self._MISSING else value

    def time(self, path: str, *, required: bool = False) -> datetime | None:
        value = self.req(path) if required else self.opt(path)
        if value is None:
            return None
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise InvalidEventPayload(self.event, path, f"is not an ISO 8601 time: {value!r}") from None


def _build(model: type[_Event], f: _Fields, paths: Mapping[str, str], **derived: Any) -> Event:
    """Fill `model` from payload paths ("?" marks an optional one) plus derived values; errors name the path."""
    values: dict[str, Any] = {}
    for name, path in paths.items():
        values[name] = f.opt(path[1:]) if path.startswith("?") else f.req(path)
    values.update(derived)
    try:
        return model(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "<payload>"
        raise InvalidEventPayload(f.event, paths.get(name, name).lstrip("?"), f"is invalid: {first['msg']}") from None


def _parse_pull_request(f: _Fields) -> PullRequestEvent:
    paths = {
        "action": "action",
        "number": "pull_request.number",
        "head_sha": "pull_request.head.sha",
        "head_ref": "pull_request.head.ref",
        "base_sha": "pull_request.base.sha",
        "base_ref": "pull_request.base.ref",
        "merge_commit_sha": "?pull_request.merge_commit_sha",
        "title": "pull_request.title",
        "body": "?pull_request.body",
        "author": "pull_request.user.login",
        "repository": "repository.full_name",
    }
    # GitHub omits `merged` on some actions; absent means not merged
    return _build(PullRequestEvent, f, paths, merged=f.opt("pull_request.merged") is True, labels=_label_names(f),
                  **_head_repository(f))


def _head_repository(f: _Fields) -> dict[str, Any]:
    """`head_repository` and `fork` from `pull_request.head.repo`: required, null once the fork was deleted."""
    if not isinstance(f.opt("pull_request.head"), Mapping):  # _build names the first field it misses there
        return {"head_repository": None, "fork": True}
    repo = f.req("pull_request.head.repo")
    if repo is not None and not isinstance(repo, Mapping):
        raise InvalidEventPayload(f.event, "pull_request.head.repo", "is not an object")
    name = None if repo is None else f.req("pull_request.head.repo.full_name")
    if name is not None and not isinstance(name, str):
        raise InvalidEventPayload(f.event, "pull_request.head.repo.full_name", "is not a string")
    base = f.opt("repository.full_name")  # the base repository; _build reports it when it is missing or wrong
    return {"head_repository": name, "fork": is_fork(name, base if isinstance(base, str) else None)}


def _label_names(f: _Fields) -> tuple[str, ...]:
    labels = f.opt("pull_request.labels") or []
    if not isinstance(labels, list):
        raise InvalidEventPayload(f.event, "pull_request.labels", "is not a list")
    return tuple(
        label["name"] for label in labels if isinstance(label, Mapping) and isinstance(label.get("name"), str)
    )


def _parse_review(f: _Fields) -> ReviewEvent:
    paths = {
        "action": "action",
        "number": "pull_request.number",
        "state": "review.state",
        "reviewer": "review.user.login",
        "commit_id": "review.commit_id",
        "head_sha": "pull_request.head.sha",
        "base_ref": "pull_request.base.ref",
        "repository": "repository.full_name",
    }
    state = f.req("review.state")
    # webhooks send lower case, the REST API upper case: one spelling for the sensors
    state = state.lower() if isinstance(state, str) else state
    return _build(ReviewEvent, f, paths, state=state, submitted_at=f.time("review.submitted_at"),
                  **_head_repository(f))


def _parse_push(f: _Fields) -> PushEvent:
    paths = {
        "ref": "ref",
        "before": "before",
        "after": "after",
        "created": "created",
        "deleted": "deleted",
        "repository": "repository.full_name",
    }
    ref = f.req("ref")
    is_tag = isinstance(ref, str) and ref.startswith(_TAG_PREFIX)
    is_branch = isinstance(ref, str) and ref.startswith(_BRANCH_PREFIX)
    return _build(
        PushEvent,
        f,
        paths,
        forced=f.opt("forced") is True,
        is_tag=is_tag,
        tag=ref[len(_TAG_PREFIX) :] if is_tag else None,
        branch=ref[len(_BRANCH_PREFIX) :] if is_branch else None,
    )


def _parse_release(f: _Fields) -> ReleaseEvent:
    paths = {
        "action": "action",
        "release_id": "release.id",
        "tag_name": "release.tag_name",
        "target_commitish": "release.target_commitish",
        "name": "?release.name",
        "draft": "release.draft",
        "prerelease": "release.prerelease",
        "html_url": "release.html_url",
        "author": "release.author.login",
        "repository": "repository.full_name",
    }
    return _build(ReleaseEvent, f, paths, published_at=f.time("release.published_at"))


def _parse_ping(f: _Fields) -> PingEvent:
    paths = {"zen": "zen", "hook_id": "hook_id", "app_id": "?hook.app_id", "repository": "?repository.full_name"}
    return _build(PingEvent, f, paths)


# event name (X-GitHub-Event) -> parser; everything else is ignored
_PARSERS: dict[str, Callable[[_Fields], Event]] = {
    "pull_request": _parse_pull_request,
    "pull_request_review": _parse_review,
    "push": _parse_push,
    "release": _parse_release,
    "ping": _parse_ping,
}

HANDLED_EVENTS: frozenset[str] = frozenset(_PARSERS)


def is_handled(event: str) -> bool:
    """Whether `parse_event` turns this event name into a model (others are ignored)."""
    return event in _PARSERS


def parse_event(event: str, payload: Mapping[str, Any]) -> Event | None:
    """Parse one webhook into its model; None for events we do not handle; InvalidEventPayload if it is malformed."""
    parser = _PARSERS.get(event)
    if parser is None:
        return None
    if not isinstance(payload, Mapping):
        raise InvalidEventPayload(event, "<payload>", f"is a JSON {type(payload).__name__}, not an object")
    return parser(_Fields(event, payload))
