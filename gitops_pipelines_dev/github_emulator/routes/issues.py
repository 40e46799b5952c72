"""Issues, their labels and comments (pull request conversations are issue comments on GitHub; a pull request is
also an issue, so it shows in `GET /issues` with a `pull_request` key and `PATCH /issues/{n}` can close it).

Not emulated: assignees, milestones and issue types (none can be set, so their filters match accordingly), and
`issues`/`label` webhooks (the contract holds no example payload of them to shape one from).
"""

from __future__ import annotations

import re

from ..http import Answer, ApiError, Ctx, not_found
from ..models import Issue, now
from ..repo_state import CLOSE_REASONS
from ..rest_payloads import comment, error, label, validation_failed
from ..rest_pulls import issue
from ._common import MAX_COMMENT, check_body, json_value, require, typed

STATE_REASONS = (*CLOSE_REASONS, "reopened")
MAX_LABEL_DESCRIPTION = 100
_COLOR = re.compile(r"[0-9a-fA-F]{6}")


def _issue_number(ctx: Ctx) -> int:
    number = ctx.int_param("issue_number")
    if number not in ctx.repo.issues:
        raise not_found()
    return number


def _label_names(value, resource: str = "Label") -> list[str]:
    """Label names from what GitHub accepts: names, or objects with a `name`."""
    if not isinstance(value, list):
        raise ApiError(422, validation_failed(resource, "labels", "invalid"))
    names = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            raise ApiError(422, validation_failed(resource, "labels", "invalid"))
        names.append(name.strip())
    return names


def _title(data: dict, resource: str) -> str | None:
    title = data.get("title")
    if title is None:
        return None
    if isinstance(title, bool) or not isinstance(title, (str, int)) or not str(title).strip():
        raise ApiError(422, validation_failed(resource, "title", "invalid"))
    return str(title)


def _check_length(data: dict, resource: str) -> None:
    if len(data.get("body") or "") > MAX_COMMENT:
        raise ApiError(422, validation_failed(resource, "body", "custom",
                                              f"body is too long (maximum is {MAX_COMMENT} characters)"))


def get_issue(ctx: Ctx) -> Answer:
    return Answer(issue(ctx.repo, ctx.repo.issues[_issue_number(ctx)]))


def create_issue(ctx: Ctx) -> Answer:
    """`POST /issues` as the token's user (RepoState.create_issue); labels that do not exist yet are created."""
    data = ctx.json()
    require(data, "Issue", "title")
    typed(data, "Issue", ("body", str), ("labels", list))
    title = _title(data, "Issue")
    _check_length(data, "Issue")
    labels = _label_names(data.get("labels") or [], "Issue")
    number = ctx.repo.create_issue(title, data.get("body"), user=ctx.login, labels=labels)
    body = issue(ctx.repo, ctx.repo.issues[number])
    return Answer(body, 201, {"Location": body["url"]})


def _matches_labels(item: Issue, wanted: list[str]) -> bool:
    have = {name.lower() for name in item.labels}
    return all(name.lower() in have for name in wanted)


def list_issues(ctx: Ctx) -> Answer:
    """`GET /issues`: issues and pull requests, filtered by state, labels (all of them), creator, mentioned, since
    (updated at or after), assignee/milestone/type (none can be set here); sorted and paginated as on GitHub."""
    q = ctx.query
    state = q.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise ApiError(422, validation_failed("Issue", "state", "invalid"))
    items = [i for i in ctx.repo.issues.values() if state == "all" or i.state == state]
    if q.get("labels"):
        wanted = [name.strip() for name in q["labels"].split(",") if name.strip()]
        items = [i for i in items if _matches_labels(i, wanted)]
    if q.get("creator"):
        items = [i for i in items if i.user.lower() == q["creator"].lower()]
    if q.get("mentioned"):
        mention = re.compile(rf"(?<![\w@])@{re.escape(q['mentioned'])}(?![\w-])", re.IGNORECASE)
        items = [i for i in items if mention.search(i.body or "")]
    if q.get("since"):
        items = [i for i in items if i.updated_at >= q["since"].replace("+00:00", "Z")]
    for name, unset in (("assignee", "none"), ("milestone", "none"), ("type", "none")):
        if q.get(name) and q[name] != unset:  # nothing is ever assigned, in a milestone or typed
            items = []
    sort = q.get("sort", "created")
    if sort not in ("created", "updated", "comments"):
        raise ApiError(422, validation_failed("Issue", "sort", "invalid"))
    key = {"created": lambda i: (i.created_at, i.number), "updated": lambda i: (i.updated_at, i.number),
           "comments": lambda i: (len(ctx.repo.comments_on(i.number)), i.number)}[sort]
    items.sort(key=key, reverse=q.get("direction", "desc") != "asc")
    page = ctx.paginate(items)
    page.body = [issue(ctx.repo, i) for i in page.body]
    return page


def edit_issue(ctx: Ctx, number: int, data: dict, resource: str = "Issue") -> Issue:
    """Apply a PATCH to issue (or pull request) number as the token's user: title, body, labels (replaced), and
    state with state_reason (closing or reopening through RepoState.close / reopen, which send the pull request's
    closed / reopened)."""
    repo, item = ctx.repo, ctx.repo.issues[number]
    typed(data, resource, ("body", str), ("state", str), ("state_reason", str), ("labels", list))
    title = _title(data, resource)
    _check_length(data, resource)
    state, reason = data.get("state"), data.get("state_reason")
    if state is not None and state not in ("open", "closed"):
        raise ApiError(422, validation_failed(resource, "state", "invalid"))
    if reason is not None and (reason not in STATE_REASONS or (state == "closed" and reason == "reopened")):
        raise ApiError(422, validation_failed(resource, "state_reason", "invalid"))
    labels = _label_names(data["labels"], resource) if data.get("labels") is not None else None
    if state == "open" and item.state == "closed" and number in repo.pulls and repo.pulls[number].merged:
        raise ApiError(422, validation_failed(resource, "state", "custom",
                                              "state cannot be changed. The pull request is merged."))
    if title is not None or "body" in data:
        item.title = title if title is not None else item.title
        item.body = data["body"] if "body" in data else item.body
        item.updated_at = now()
    if labels is not None:
        repo.set_labels(number, labels, user=ctx.login)
    if state == "closed" and item.state == "open":
        repo.close(number, user=ctx.login, reason=reason)
    elif state == "open" and item.state == "closed":
        repo.reopen(number, user=ctx.login)
    return item


def update_issue(ctx: Ctx) -> Answer:
    """`PATCH /issues/{n}`."""
    return Answer(issue(ctx.repo, edit_issue(ctx, _issue_number(ctx), ctx.json())))


# -- labels ---------------------------------------------------------------------------------------------------------
def list_labels(ctx: Ctx) -> Answer:
    page = ctx.paginate(sorted(ctx.repo.labels.values(), key=lambda lab: lab.name.lower()))
    page.body = [label(ctx.repo, lab) for lab in page.body]
    return page


def create_label(ctx: Ctx) -> Answer:
    data = ctx.json()
    require(data, "Label", "name")
    typed(data, "Label", ("name", str), ("color", str), ("description", str))
    name, color = data["name"].strip(), (data.get("color") or "ededed").removeprefix("#")
    if not _COLOR.fullmatch(color):
        raise ApiError(422, validation_failed("Label", "color", "invalid"))
    if len(data.get("description") or "") > MAX_LABEL_DESCRIPTION:
        raise ApiError(422, validation_failed("Label", "description", "custom",
                                              f"description is too long (maximum is {MAX_LABEL_DESCRIPTION} "
                                              "characters)"))
    if ctx.repo.label(name):
        raise ApiError(422, validation_failed("Label", "name", "already_exists"))
    created = ctx.repo.create_label(name, color, data.get("description"))
    body = label(ctx.repo, created)
    return Answer(body, 201, {"Location": body["url"]})


def get_label(ctx: Ctx) -> Answer:
    found = ctx.repo.label(ctx.params["name"])
    if found is None:
        raise not_found()
    return Answer(label(ctx.repo, found))


def _labels_in_body(ctx: Ctx) -> list[str]:
    """`{"labels": [...]}` (GitHub's recommended form) or a bare array (what PyGithub sends)."""
    value = json_value(ctx)
    if isinstance(value, dict):
        value = value.get("labels")
    return _label_names(value if value is not None else [])


def issue_labels(ctx: Ctx) -> Answer:
    number = _issue_number(ctx)
    page = ctx.paginate([ctx.repo.label(name) for name in ctx.repo.issues[number].labels])
    page.body = [label(ctx.repo, lab) for lab in page.body]
    return page


def add_labels(ctx: Ctx) -> Answer:
    """`POST /issues/{n}/labels`: add labels (created when missing); answers every label the issue now has."""
    number = _issue_number(ctx)
    labels = ctx.repo.set_labels(number, _labels_in_body(ctx), user=ctx.login, add=True)
    return Answer([label(ctx.repo, lab) for lab in labels])


def set_labels(ctx: Ctx) -> Answer:
    """`PUT /issues/{n}/labels` (outside the contract subset): replace the issue's labels."""
    number = _issue_number(ctx)
    labels = ctx.repo.set_labels(number, _labels_in_body(ctx), user=ctx.login)
    return Answer([label(ctx.repo, lab) for lab in labels])


def remove_label(ctx: Ctx) -> Answer:
    """`DELETE /issues/{n}/labels/{name}` (outside the contract subset): the labels left, or 404 when absent."""
    number = _issue_number(ctx)
    names = ctx.repo.issues[number].labels
    remaining = [name for name in names if name.lower() != ctx.params["name"].lower()]
    if len(remaining) == len(names):
        raise ApiError(404, error("Label does not exist", 404))
    labels = ctx.repo.set_labels(number, remaining, user=ctx.login)
    return Answer([label(ctx.repo, lab) for lab in labels])


# -- comments -------------------------------------------------------------------------------------------------------
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
    ("GET", "/issues", list_issues),
    ("POST", "/issues", create_issue),
    ("PATCH", "/issues/comments/{comment_id}", update_comment),
    ("GET", "/issues/{issue_number}", get_issue),
    ("PATCH", "/issues/{issue_number}", update_issue),
    ("GET", "/issues/{issue_number}/comments", list_comments),
    ("POST", "/issues/{issue_number}/comments", create_comment),
    ("GET", "/issues/{issue_number}/labels", issue_labels),
    ("POST", "/issues/{issue_number}/labels", add_labels),
    ("PUT", "/issues/{issue_number}/labels", set_labels),
    ("DELETE", "/issues/{issue_number}/labels/{name:path}", remove_label),
    ("GET", "/labels", list_labels),
    ("POST", "/labels", create_label),
    ("GET", "/labels/{name:path}", get_label),
]
