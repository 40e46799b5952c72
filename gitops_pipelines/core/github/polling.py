"""Incremental polling of pull requests: one conditional request when nothing changed, whatever the number open.

`GET /pulls?state=all&sort=updated&direction=desc` puts every pull request that moved (push, review, comment, close,
merge) on the first page, so its ETag alone says whether anything changed: an unchanged poll is one 304, which
GitHub does not count against the rate limit. When it changed, pages are read only down to the last poll's
watermark. The first poll reads that one page for the watermark only: the pull requests already open are read a
page at a time by the backlog (`open_pulls_page`, core/triggers/backlog.py). Belongs in GitHubGateway (it uses the
gateway's request plumbing); kept here until it moves there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gitops_pipelines.core.github.gateway import GitHubGateway, next_link
from gitops_pipelines.core.github.models import PullRequest
from gitops_pipelines.core.timestamps import parse_time
from gitops_pipelines.core.github.transport import _header

# updated_at has one-second resolution and clocks differ: re-read what moved this close to the watermark
OVERLAP = timedelta(seconds=5)


@dataclass
class PollResult:
    changed: bool
    pulls: list[PullRequest]  # open and closed ones that moved since the watermark (none on the first poll)
    etag: str | None
    since: str | None  # the watermark: newest updated_at seen; None while the repository has no pull request
    first: bool = False  # no watermark before: the pull requests already open are the backlog's
    merged_at: dict[int, str] = field(default_factory=dict)  # number -> merged_at of the merged ones in `pulls`


def poll_pulls(gateway: GitHubGateway, etag: str | None, since: str | None) -> PollResult:
    """What moved since the last poll (etag and since come from the previous PollResult, e.g. via a cursor)."""
    first = f"{gateway._path}/pulls?state=all&sort=updated&direction=desc&per_page={gateway.per_page}"
    headers = {"If-None-Match": etag} if etag and since else None
    answer_headers, data = gateway.request("polling pull requests", "GET", first, headers=headers)
    if data is None and headers:  # 304 Not Modified
        return PollResult(False, [], etag, since)
    new_etag = _header(answer_headers, "ETag")
    newest = max((d.get("updated_at") for d in data or [] if d.get("updated_at")), default=since)
    if not since:  # first poll: only the watermark
        return PollResult(True, [], new_etag, newest, first=True)
    floor = (parse_time(since) or datetime.min) - OVERLAP
    moved: list[dict] = []
    page, url = data or [], next_link(answer_headers)
    while True:
        fresh = [d for d in page if (parse_time(d.get("updated_at")) or floor) >= floor]
        moved += fresh
        if len(fresh) < len(page) or not url:
            break
        answer_headers, page = gateway.request("polling pull requests", "GET", url)
        page, url = page or [], next_link(answer_headers)
    merged_at = {int(d["number"]): d["merged_at"] for d in moved if d.get("merged_at")}
    return PollResult(True, [PullRequest.from_json(d) for d in moved], new_etag, max(newest or "", since),
                      merged_at=merged_at)


def open_pulls_page(gateway: GitHubGateway, page: int) -> tuple[list[PullRequest], bool]:
    """One page of the open pull requests, oldest first, and whether a later page exists. New pull requests join
    the end, so a page only moves when an earlier pull request closes (or reopens)."""
    url = (f"{gateway._path}/pulls?state=open&sort=created&direction=asc&per_page={gateway.per_page}"
           f"&page={page}")
    headers, data = gateway.request(f"listing open pull requests (page {page})", "GET", url)
    return [PullRequest.from_json(d) for d in data or []], next_link(headers) is not None
