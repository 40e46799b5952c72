"""Incremental polling of pull requests: one conditional request when nothing changed, whatever the number open.

`GET /pulls?state=all&sort=updated&direction=desc` puts every pull request that moved (push, review, comment, close,
merge) on the first page, so its ETag alone says whether anything changed: an unchanged poll is one 304, which
GitHub does not count against the rate limit. When it changed, pages are read only down to the last poll's
watermark. Belongs in GitHubGateway (it uses the gateway's request plumbing); kept here until it moves there.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    pulls: list[PullRequest]  # open and closed ones that moved since the watermark (all open ones when complete)
    complete: bool  # True: `pulls` holds every open pull request (first poll); a missing one was closed
    etag: str | None
    since: str | None


def poll_pulls(gateway: GitHubGateway, etag: str | None, since: str | None) -> PollResult:
    """What moved since the last poll (etag and since come from the previous PollResult, e.g. via a cursor)."""
    first = f"{gateway._path}/pulls?state=all&sort=updated&direction=desc&per_page={gateway.per_page}"
    headers = {"If-None-Match": etag} if etag and since else None
    answer_headers, data = gateway.request("polling pull requests", "GET", first, headers=headers)
    if data is None and headers:  # 304 Not Modified
        return PollResult(False, [], False, etag, since)
    new_etag = _header(answer_headers, "ETag")
    page = [PullRequest.from_json(d) for d in data or []]
    newest = max((p.updated_at for p in page if p.updated_at), default=since)
    if not since:  # first poll: every open pull request, once
        return PollResult(True, gateway.open_pulls(), True, new_etag, newest)
    floor = (parse_time(since) or datetime.min) - OVERLAP
    moved: list[PullRequest] = []
    url = next_link(answer_headers)
    while True:
        fresh = [p for p in page if (parse_time(p.updated_at) or floor) >= floor]
        moved += fresh
        if len(fresh) < len(page) or not url:
            break
        answer_headers, data = gateway.request("polling pull requests", "GET", url)
        page = [PullRequest.from_json(d) for d in data or []]
        url = next_link(answer_headers)
    return PollResult(True, moved, False, new_etag, max(newest or "", since))
