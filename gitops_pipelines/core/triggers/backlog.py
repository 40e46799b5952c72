"""The pull requests already open at the poll sensor's first tick, looked at a few per tick.

Looking at every open pull request at once costs two requests each (files, reviews): 1,006 for 500, more than a
sensor tick may take. So the first tick only sets the poll's watermark and starts a `Backlog`; from then on every
tick spends at most `BACKLOG_REQUESTS` requests on it, reading the open list oldest first, one page at a time.

Nothing is lost meanwhile: a pull request that moves after the watermark is the incremental poll's (deciding.py);
the backlog skips those the cursor already knows. The list is read oldest first because new pull requests join its
end; one that closes moves the later ones a place forward, so each tick starts at the page that holds the last one
looked at and steps back while that page starts past it. A pull request merged before the backlog reached it is
handled by `decide_poll` (it gets its checks, then its merge)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from gitops_pipelines.core.github.models import PullRequest, Review
from gitops_pipelines.core.triggers.cursor import Backlog, TriggerCursor
from gitops_pipelines.core.triggers.deciding import MAIN_BRANCH, AffectedUnits, GitHubReads, _Decider
from gitops_pipelines.core.triggers.decisions import Decision

# Requests per tick for the backlog (list pages, files, reviews): with PyGithub's 0.25 s between requests a tick
# stays well inside Dagster's 60 s sensor timeout, and at the default 30 s poll it is at most 2,400 of GitHub's 5,000
# requests an hour, leaving the rest to the runs it starts, and only until the backlog is done (500: ~25 minutes).
BACKLOG_REQUESTS = 20

OpenPage = Callable[[int], tuple[list[PullRequest], bool]]
"""Page number (from 1) -> the open pull requests on it, oldest first, and whether a later page exists."""


def start_backlog(cursor: TriggerCursor, watermark: str | None) -> TriggerCursor:
    """On a fresh cursor with pull requests on GitHub (a watermark): look at those already open, a few per tick."""
    cursor = cursor.copy()
    if watermark and cursor.backlog is None:
        cursor.backlog = Backlog(started=watermark)
    return cursor


class _Counting:
    """The GitHub reads deciding makes, counted against the tick's budget."""

    def __init__(self, github: GitHubReads):
        self.github, self.used = github, 0

    def changed_files(self, number: int) -> list[str]:
        self.used += 1
        return self.github.changed_files(number)

    def reviews(self, number: int) -> list[Review]:
        self.used += 1
        return self.github.reviews(number)

    def pull(self, number: int) -> PullRequest:
        self.used += 1
        return self.github.pull(number)


def work_backlog(cursor: TriggerCursor, read_page: OpenPage, github: GitHubReads, affected: AffectedUnits, *,
                 page_size: int, budget: int = BACKLOG_REQUESTS, now: datetime | None = None,
                 main_branch: str = MAIN_BRANCH) -> tuple[list[Decision], TriggerCursor]:
    """Look at the next open pull requests of the backlog within `budget` requests; the cursor remembers where it
    stopped. Once the last page was looked at the backlog is done, and gone the tick after: that tick's poll still
    treats a merge made while the last page was read as one the backlog never saw."""
    if cursor.backlog is None:
        return [], cursor
    if cursor.backlog.done:
        cursor = cursor.copy()
        cursor.backlog = None
        return [], cursor
    now = now or datetime.now(timezone.utc)
    counted = _Counting(github)
    d = _Decider(cursor, counted, affected, main_branch)
    backlog = d.cursor.backlog
    assert backlog is not None
    page = (backlog.position - 1) // page_size + 1 if backlog.position else 1
    verify = True  # a page reached on an earlier tick may have moved: it must start at or before `after`
    while counted.used < budget:
        pulls, more = read_page(page)
        counted.used += 1
        if verify and page > 1 and (not pulls or pulls[0].number > backlog.after):
            page -= 1  # pull requests closed meanwhile moved the next one to an earlier page
            continue
        for index, pull in enumerate(pulls):
            if pull.number <= backlog.after:
                continue
            if counted.used >= budget:
                return d.result()
            if pull.number not in d.cursor.pulls:  # the incremental poll already looked at those that moved
                d.look(pull, now)
            backlog.after, backlog.position = pull.number, (page - 1) * page_size + index + 1
        if not more:
            backlog.done = True
            break
        page, verify = page + 1, False
    return d.result()
