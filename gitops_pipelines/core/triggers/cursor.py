"""The sensor cursor: a small JSON document that remembers, per open pull request, the head already checked, the
units it touches and the review verdicts already recorded, plus the poll's ETags and the last webhook delivery."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

CURSOR_VERSION = 1

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


@dataclass
class TriggerCursor:
    """The sensor cursor: `{"v": 1, "delivery": <last webhook row id>, "etags": {<poll url>: <etag>},
    "since": <newest updated_at polled>, "pulls": {"<n>": {"head", "base", "units", "updated", "verdicts", ...}}}`."""

    pulls: dict[int, PullMemory] = field(default_factory=dict)
    delivery: int = 0
    etags: dict[str, str] = field(default_factory=dict)
    since: str | None = None  # newest updated_at seen by the incremental poll

    def to_json(self) -> str:
        data: dict[str, Any] = {"v": CURSOR_VERSION, "delivery": self.delivery,
                                "pulls": {str(n): m.to_json() for n, m in sorted(self.pulls.items())}}
        if self.etags:
            data["etags"] = self.etags
        if self.since:
            data["since"] = self.since
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
                   since=data.get("since"))

    def copy(self) -> "TriggerCursor":
        return TriggerCursor.from_json(self.to_json())

    @property
    def needs_recheck(self) -> bool:
        return any(m.recheck for m in self.pulls.values())


