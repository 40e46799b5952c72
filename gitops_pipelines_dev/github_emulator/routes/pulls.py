"""Pull requests: list (state/head/base filters, pagination), one PR, its files and its reviews."""

from __future__ import annotations

from ..http import Answer, ApiError, Ctx, not_found
from ..rest_payloads import diff_entry, error, review, validation_failed
from ..rest_pulls import pull_request


def _pull(ctx: Ctx):
    pr = ctx.repo.pulls.get(ctx.int_param("pull_number"))
    if pr is None:
        raise not_found()
    return pr


def list_pulls(ctx: Ctx) -> Answer:
    state = ctx.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise ApiError(422, validation_failed("PullRequest", "state", "invalid"))
    pulls = [pr for pr in ctx.repo.pulls.values() if state == "all" or pr.state == state]
    if "head" in ctx.query:
        owner, _, branch = ctx.query["head"].rpartition(":")
        pulls = [pr for pr in pulls if pr.head == branch and (not owner or owner.lower() == ctx.repo.owner.lower())]
    if "base" in ctx.query:
        pulls = [pr for pr in pulls if pr.base == ctx.query["base"]]
    sort = ctx.query.get("sort", "created")
    key = {"created": lambda pr: (pr.issue.created_at, pr.number),
           "updated": lambda pr: (pr.issue.updated_at, pr.number)}.get(sort, lambda pr: (pr.issue.created_at, pr.number))
    direction = ctx.query.get("direction", "desc" if sort == "created" else "asc")
    pulls.sort(key=key, reverse=direction == "desc")
    page = ctx.paginate(pulls)
    page.body = [pull_request(ctx.repo, pr, simple=True) for pr in page.body]
    return page


def get_pull(ctx: Ctx) -> Answer:
    return Answer(pull_request(ctx.repo, _pull(ctx)))


def list_files(ctx: Ctx) -> Answer:
    pr = _pull(ctx)
    git = ctx.repo.git
    merge_base = git.merge_base(pr.base_sha, pr.head_sha) or pr.base_sha
    changes = git.diff(merge_base, pr.head_sha)
    page = ctx.paginate(changes)
    page.body = [diff_entry(ctx.repo, change, pr.head_sha) for change in page.body]
    return page


def list_reviews(ctx: Ctx) -> Answer:
    pr = _pull(ctx)
    page = ctx.paginate(ctx.repo.reviews_of(pr.number))
    page.body = [review(ctx.repo, r) for r in page.body]
    return page


def merge_pull(ctx: Ctx) -> Answer:
    """`PUT /pulls/{n}/merge` (outside the contract subset): a real merge commit, as `RepoState.merge` makes."""
    pr = _pull(ctx)
    data = ctx.json()
    if pr.state != "open" or not ctx.repo.git.mergeable(pr.base_sha, pr.head_sha):
        raise ApiError(405, error("Pull Request is not mergeable", 405))
    if data.get("sha") and data["sha"] != pr.head_sha:
        raise ApiError(409, error("Head branch was modified. Review and try the merge again.", 409))
    sha = ctx.repo.merge(pr.number, user=ctx.login, message=data.get("commit_title"))
    return Answer({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


ROUTES = [
    ("GET", "/pulls", list_pulls),
    ("GET", "/pulls/{pull_number}", get_pull),
    ("GET", "/pulls/{pull_number}/files", list_files),
    ("GET", "/pulls/{pull_number}/reviews", list_reviews),
    ("PUT", "/pulls/{pull_number}/merge", merge_pull),
]
