"""The sensor cursor: a small JSON document that remembers, per open pull request, the head already checked, the
units it touches and the review verdicts already recorded, the merges waiting for their head's checks, the poll's
ETags, how far the first look at the pull requests already open has got, and the last webhook delivery."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gitops_pipelines.core.triggers.decisions import RunMerge

CURSOR_VERSION = 1  # fields added later are optional, so an older cursor of this version still loads

@dataclass
class PullMemory:
    """What the sensor already did for one open pull request."""

    head: str
    base: str
    units: dict[str, str] = field(default_factory=dict)  # unit name -> kind, at `head`
    updated: str | None = None  # the pull request's updated_at when last looked at
    verdicts: dict[str, list[str]] = field(default_factory=dict)  # reviewer -> [STATE, commit_id] already recorded
    approved: str | None = None  # the head commit an approval was recorded for
    recheck: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"head": self.head, "base": self.base, "units": self.units}
        for name in ("updated", "approved"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.verdicts:
            out["verdicts"] = self.verdicts
        if self.recheck:
            out["recheck"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PullMemory":
        return cls(head=data["head"], base=data.get("base", ""), units=dict(data.get("units") or {}),
                   updated=data.get("updated"), verdicts={k: list(v) for k, v in (data.get("verdicts") or {}).items()},
                   approved=data.get("approved"), recheck=bool(data.get("recheck")))


@dataclass(frozen=True)
class PendingMerge:
    """A merge decided but not started yet: the PR checks at its head still run. `since`: when first decided."""

    merge: RunMerge
    since: str  # ISO-8601 UTC

    def to_json(self) -> dict[str, Any]:
        m = self.merge
        out: dict[str, Any] = {"pr": m.pr, "head": m.head_sha, "unit": m.unit, "kind": m.kind, "since": self.since}
        if m.merge_sha:
            out["merge"] = m.merge_sha
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PendingMerge":
        merge = RunMerge(int(data["pr"]), data["head"], data.get("merge"), data["unit"], data["kind"])
        return cls(merge, data["since"])


@dataclass
class Backlog:
    """How far the poll sensor got through the pull requests already open at its first tick, read oldest first a few
    per tick (core/triggers/backlog.py). Those that move meanwhile are the incremental poll's."""

    started: str  # the poll's watermark at the first tick: a merge after it of one not looked at yet still runs
    after: int = 0  # every open pull request numbered up to this one was looked at
    position: int = 0  # how many open pull requests were numbered up to `after` when last read: where to read next
    done: bool = False  # the last page was looked at; kept one more tick for a merge made while it was read

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"started": self.started, "after": self.after, "position": self.position}
        if self.done:
            out["done"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Backlog":
        return cls(data["started"], int(data.get("after") or 0), int(data.get("position") or 0),
                   bool(data.get("done")))


@dataclass
class TriggerCursor:
    """The sensor cursor: `{"v": 1, "delivery": <last webhook row id>, "etags": {<poll url>: <etag>},
    "since": <newest updated_at polled>, "pulls": {"<n>": {"head", "base", "units", "updated", "verdicts", ...}},
    "pending": [{"pr", "head", "merge", "unit", "kind", "since"}, ...],
    "backlog": {"started", "after", "position", "done"}}`."""

    pulls: dict[int, PullMemory] = field(default_factory=dict)
    delivery: int = 0
    etags: dict[str, str] = field(default_factory=dict)
    since: str | None = None  # newest updated_at seen by the incremental poll
    pending_merges: list[PendingMerge] = field(default_factory=list)  # oldest first
    backlog: Backlog | None = None  # pull requests open at the first tick not all looked at yet
    polled_at: float | None = None  # the webhook sensor's last fallback poll (epoch seconds)

    def to_json(self) -> str:
        data: dict[str, Any] = {"v": CURSOR_VERSION, "delivery": self.delivery,
                                "pulls": {str(n): m.to_json() for n, m in sorted(self.pulls.items())}}
        if self.etags:
            data["etags"] = self.etags
        if self.since:
            data["since"] = self.since
        if self.pending_merges:
            data["pending"] = [p.to_json() for p in self.pending_merges]
        if self.backlog:
            data["backlog"] = self.backlog.to_json()
        if self.polled_at:
            data["polled_at"] = self.polled_at
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> "TriggerCursor":
        """An empty cursor for None/""; a cursor of another version starts afresh (run keys prevent duplicates)."""
        if not text:
            return cls()
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
            return cls()
        return cls(pulls={int(n): PullMemory.from_json(m) for n, m in (data.get("pulls") or {}).items()},
                   delivery=int(data.get("delivery") or 0), etags=dict(data.get("etags") or {}),
                   since=data.get("since"),
                   pending_merges=[PendingMerge.from_json(p) for p in data.get("pending") or []],
                   backlog=Backlog.from_json(data["backlog"]) if data.get("backlog") else None,
                   polled_at=data.get("polled_at"))

    def copy(self) -> "TriggerCursor":
        return TriggerCursor.from_json(self.to_json())

    @property
    def needs_recheck(self) -> bool:
        return any(m.recheck for m in self.pulls.values())


