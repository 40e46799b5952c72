"""Reading check runs back: what the pipeline reported on a commit (`GET /commits/{ref}/check-runs`), as frozen
dataclasses. A function over the gateway's request helpers, beside the writes in publishing.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gateway import GitHubGateway


@dataclass(frozen=True)
class CheckRun:
    """One check run on a commit: its name (e.g. `storage/plan (test)`), status and, once completed, conclusion."""

    id: int
    name: str
    head_sha: str
    status: str  # queued | in_progress | completed (| waiting | requested | pending)
    conclusion: str | None = None  # success | failure | neutral | cancelled | skipped | timed_out | ...
    title: str = ""
    completed_at: str | None = None
    details_url: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "completed" and self.conclusion == "success"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CheckRun":
        return cls(id=int(data["id"]), name=data.get("name") or "", head_sha=data.get("head_sha") or "",
                   status=data.get("status") or "", conclusion=data.get("conclusion"),
                   title=(data.get("output") or {}).get("title") or "", completed_at=data.get("completed_at"),
                   details_url=data.get("details_url") or data.get("html_url") or "")


def check_runs(gateway: "GitHubGateway", ref: str) -> list[CheckRun]:
    """The latest check run of each name on commit `ref`, every page read; a rerun replaces the older run."""
    from .gateway import next_link

    what = f"listing check runs of {ref[:12]}"
    latest: dict[str, CheckRun] = {}
    url: str | None = f"/commits/{ref}/check-runs"
    params: dict | None = {"filter": "latest", "per_page": gateway.per_page}
    while url:
        headers, data = gateway._api(what, "GET", url, params=params)
        for item in (data or {}).get("check_runs") or []:
            run = CheckRun.from_json(item)
            if run.name not in latest or run.id > latest[run.name].id:
                latest[run.name] = run
        url, params = next_link(headers), None  # the next link carries every parameter
    return sorted(latest.values(), key=lambda run: run.name)
