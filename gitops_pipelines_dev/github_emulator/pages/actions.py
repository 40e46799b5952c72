"""Approve and Merge from a pull request's page, as a demo user: the same handlers the REST API runs
(`POST /pulls/{n}/reviews`, `PUT /pulls/{n}/merge`), so reviews, merges and their webhooks are exactly the API's.

Who may act: the people the emulator has given a token (their logins; never the tokens), plus the demo's defaults,
alice for reviews and the maintainer for merges. The author of a pull request is not offered as its reviewer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..http import ApiError, Ctx
from ..routes import pulls

if TYPE_CHECKING:
    from ..models import PullRequest
    from ..repo_state import RepoState

REVIEWER, MERGER = "alice", "maintainer"
MERGE_METHODS = pulls.MERGE_METHODS


class Refusal(Exception):
    """What the API refused (its status and message), to show on the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class People:
    reviewers: list[str]
    reviewer: str  # the one chosen by default
    mergers: list[str]
    merger: str


def people(repo: "RepoState", pr: "PullRequest") -> People:
    """The logins the page offers for Approve and Merge, and the default of each."""
    known = {login for login in repo.state.token_users.values()}
    reviewers = sorted((known | {REVIEWER}) - {pr.issue.user}, key=str.lower)
    mergers = sorted(known | {MERGER}, key=str.lower)
    reviewer = REVIEWER if REVIEWER in reviewers else (reviewers[0] if reviewers else "")
    return People(reviewers, reviewer, mergers, MERGER)


def _ctx(repo: "RepoState", pr: "PullRequest", login: str, path: str, body: dict) -> Ctx:
    return Ctx(repo.state, "POST", path, {"owner": repo.owner, "repo": repo.name, "pull_number": str(pr.number)},
               {}, json.dumps(body).encode(), login, repo)


def _run(handler, ctx: Ctx) -> dict:
    try:
        return handler(ctx).body
    except ApiError as refused:
        details = refused.body.get("errors") or []
        words = [d if isinstance(d, str) else d.get("message") or f"{d.get('field')}: {d.get('code')}"
                 for d in details]
        raise Refusal(refused.status, "; ".join([refused.body.get("message") or "Refused", *filter(None, words)]))


def approve(repo: "RepoState", pr: "PullRequest", login: str, head_sha: str | None) -> dict:
    """An APPROVED review by login of head_sha (the head the page showed; default the current head)."""
    if login not in people(repo, pr).reviewers:
        raise Refusal(422, f"{login or 'nobody'} cannot review #{pr.number} here: choose one of the listed people")
    body = {"event": "APPROVE", **({"commit_id": head_sha} if head_sha else {})}
    return _run(pulls.create_review, _ctx(repo, pr, login, f"/repos/{repo.full_name}/pulls/{pr.number}/reviews", body))


def merge(repo: "RepoState", pr: "PullRequest", login: str, method: str, head_sha: str | None) -> dict:
    """Merge as login with method; head_sha (the head the page showed) must still be the head, as on GitHub."""
    if login not in people(repo, pr).mergers:
        raise Refusal(422, f"{login or 'nobody'} cannot merge here: choose one of the listed people")
    body = {"merge_method": method or "merge", **({"sha": head_sha} if head_sha else {})}
    return _run(pulls.merge_pull, _ctx(repo, pr, login, f"/repos/{repo.full_name}/pulls/{pr.number}/merge", body))
