"""Issues and issue comments (pull request conversations are issue comments on GitHub)."""

from __future__ import annotations

from ..http import Answer, Ctx, not_found
from ..models import now
from ..rest_payloads import comment
from ..rest_pulls import issue
from ._common import check_body


def _issue_number(ctx: Ctx) -> int:
    number = ctx.int_param("issue_number")
    if number not in ctx.repo.issues:
        raise not_found()
    return number


def get_issue(ctx: Ctx) -> Answer:
    return Answer(issue(ctx.repo, ctx.repo.issues[_issue_number(ctx)]))


def list_comments(ctx: Ctx) -> Answer:
    comments = ctx.repo.comments_on(_issue_number(ctx))
    if "since" in ctx.query:
        comments = [c for c in comments if c.updated_at >= ctx.query["since"]]
    page = ctx.paginate(comments)
    page.body = [comment(ctx.repo, c) for c in page.body]
    return page


def create_comment(ctx: Ctx) -> Answer:
    number = _issue_number(ctx)
    created = ctx.repo.add_comment(number, check_body(ctx.json(), "IssueComment"), ctx.login)
    body = comment(ctx.repo, created)
    return Answer(body, 201, {"Location": body["url"]})


def update_comment(ctx: Ctx) -> Answer:
    found = ctx.repo.comments.get(ctx.int_param("comment_id"))
    if found is None:
        raise not_found()
    found.body, found.updated_at = check_body(ctx.json(), "IssueComment"), now()
    return Answer(comment(ctx.repo, found))


ROUTES = [
    ("GET", "/issues/{issue_number}", get_issue),
    ("GET", "/issues/{issue_number}/comments", list_comments),
    ("POST", "/issues/{issue_number}/comments", create_comment),
    ("PATCH", "/issues/comments/{comment_id}", update_comment),
]
