"""Pull requests as people use them: open one from a pushed branch, review it (not your own), merge it; and list
them (state/head/base filters, pagination), one PR, its files, commits and reviews."""

from __future__ import annotations

from ..git import GitError
from ..http import Answer, ApiError, Ctx, not_found
from ..repo_state import Refused
from ..rest_git import commit
from ..rest_payloads import diff_entry, error, review, validation_failed
from ..rest_pulls import pull_request
from ._common import MAX_COMMENT, json_value, require, typed, unprocessable
from .issues import edit_issue

# The review `event` a client sends -> the review `state` GitHub stores (no event: a pending review).
REVIEW_EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
MERGE_METHODS = ("merge", "squash", "rebase")
MAX_PR_COMMITS = 250  # GitHub lists at most 250 commits of a pull request


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
        pulls = [pr for pr in pulls
                 if pr.head == branch and (not owner or owner.lower() == ctx.repo.head_owner(pr).lower())]
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


def create_pull(ctx: Ctx) -> Answer:
    """`POST /pulls`: open a pull request as the token's user (RepoState.open_pull, which sends
    pull_request.opened) from a branch of this repository, or of a fork: `head: "owner:branch"` (a fork of this
    repository owned by owner) or `head_repo: "owner/name"`. Converting an issue (`issue`) is not emulated."""
    data = ctx.json()
    typed(data, "PullRequest", ("title", str), ("head", str), ("base", str), ("body", str), ("draft", bool),
          ("maintainer_can_modify", bool), ("head_repo", str))
    if data.get("issue") is not None:
        raise ApiError(422, validation_failed("PullRequest", "issue", "custom",
                                              "the emulator does not convert issues into pull requests"))
    require(data, "PullRequest", "title", "head", "base")
    if len(data.get("body") or "") > MAX_COMMENT:
        raise ApiError(422, validation_failed("PullRequest", "body", "custom",
                                              f"body is too long (maximum is {MAX_COMMENT} characters)"))
    repo, git = ctx.repo, ctx.repo.git
    owner, _, head = data["head"].rpartition(":")
    base = data["base"]
    source = _head_source(ctx, owner, data.get("head_repo"))
    head_sha, base_sha = repo.fetch_head(source, head), git.resolve(f"refs/heads/{base}")
    if not head_sha:
        raise ApiError(422, validation_failed("PullRequest", "head", "invalid"))
    if not base_sha:
        raise ApiError(422, validation_failed("PullRequest", "base", "invalid"))
    if any(pr.state == "open" and pr.head == head and pr.base == base and repo.head_repo(pr) is source
           for pr in repo.pulls.values()):
        raise ApiError(422, validation_failed("PullRequest", "", "custom",
                                              f"A pull request already exists for {source.owner}:{head}."))
    if git.count(head_sha, base_sha) == 0:
        raise ApiError(422, validation_failed("PullRequest", "", "custom", f"No commits between {base} and {head}"))
    number = repo.open_pull(head, data["title"], data.get("body"), base, user=ctx.login,
                            draft=bool(data.get("draft", False)), head_repo=source.full_name)
    body = pull_request(repo, repo.pull(number))
    return Answer(body, 201, {"Location": body["url"]})


def _head_source(ctx: Ctx, owner: str, head_repo: str | None):
    """The repository a new pull request's head is in: head_repo, else the fork of this repository that owner owns
    (else owner's repository of the same name), else this repository. 422 for one the emulator does not have."""
    repo, state = ctx.repo, ctx.state
    if head_repo:
        found = state.repo(*head_repo.split("/", 1)) if "/" in head_repo else None
    elif owner and owner.lower() != repo.owner.lower():
        forks = [r for r in state.repos.values() if r.owner.lower() == owner.lower() and r.parent is repo]
        found = forks[0] if forks else state.repo(owner, repo.name)
    else:
        found = repo
    if found is None:
        raise ApiError(422, validation_failed("PullRequest", "head", "invalid"))
    return found


def update_pull(ctx: Ctx) -> Answer:
    """`PATCH /pulls/{n}` (outside the contract subset): title, body, state (closing or reopening sends
    pull_request.closed / reopened) and base, as `PATCH /issues/{n}` does for the issue half."""
    pr = _pull(ctx)
    data = ctx.json()
    typed(data, "PullRequest", ("base", str))
    if data.get("base") and data["base"] != pr.base:
        base_sha = ctx.repo.git.resolve(f"refs/heads/{data['base']}")
        if not base_sha or pr.state != "open":
            raise ApiError(422, validation_failed("PullRequest", "base", "invalid"))
        pr.base, pr.base_sha = data["base"], base_sha
    edit_issue(ctx, pr.number, {k: v for k, v in data.items() if k in ("title", "body", "state")}, "PullRequest")
    return Answer(pull_request(ctx.repo, pr))


def list_commits(ctx: Ctx) -> Answer:
    """`GET /pulls/{n}/commits`: the commits on the head that the base lacks, oldest first (at most 250)."""
    pr = _pull(ctx)
    shas = list(reversed(ctx.repo.git.log(pr.head_sha, exclude=pr.base_sha)))[:MAX_PR_COMMITS]
    page = ctx.paginate(shas)
    page.body = [commit(ctx.repo, sha) for sha in page.body]
    return page


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


def create_review(ctx: Ctx) -> Answer:
    """`POST /pulls/{n}/reviews` as the token's user, of commit_id (default: the head), through RepoState.review
    (which sends pull_request_review.submitted and refuses an author's own approval). No event: a pending review.
    Inline review comments (`comments`) are not emulated and refused."""
    pr = _pull(ctx)
    data = ctx.json()
    event, body = data.get("event"), data.get("body")
    if event is not None and event not in REVIEW_EVENTS:
        raise unprocessable(f"Event must be one of {', '.join(REVIEW_EVENTS)}")
    if body is not None and not isinstance(body, str):
        raise unprocessable("Body must be a string")
    if event in ("REQUEST_CHANGES", "COMMENT") and not (body or "").strip():
        raise unprocessable(f"Body is required for the {event} event")
    if data.get("comments"):
        raise unprocessable("The emulator does not store review comments: send the review without `comments`")
    commit_id = data.get("commit_id") or pr.head_sha
    if not isinstance(commit_id, str) or ctx.repo.git.resolve(commit_id) != commit_id:
        raise unprocessable(f"No commit found for SHA: {commit_id}")
    state = REVIEW_EVENTS.get(event, "PENDING")
    if state == "PENDING" and any(r.user == ctx.login and r.state == "PENDING" for r in ctx.repo.reviews_of(pr.number)):
        raise unprocessable("User can only have one pending review per pull request")
    try:
        review_id = ctx.repo.review(pr.number, ctx.login, state, commit_id, body or "")
    except Refused as refused:
        raise unprocessable(str(refused))
    return Answer(review(ctx.repo, next(r for r in ctx.repo.reviews if r.id == review_id)))


def _merge_message(ctx: Ctx, pr, method: str, data: dict) -> str | None:
    """The commit message GitHub writes: commit_title (or its default), a blank line, commit_message (or its
    default: the PR title for a merge commit, the commits' messages for a squash). Rebase keeps each message."""
    if method == "rebase":
        return None
    if method == "merge":
        title = f"Merge pull request #{pr.number} from {ctx.repo.head_owner(pr)}/{pr.head}"
        detail = pr.issue.title
    else:
        title = f"{pr.issue.title} (#{pr.number})"
        shas = reversed(ctx.repo.git.log(pr.head_sha, exclude=pr.base_sha))
        detail = "\n\n".join(f"* {ctx.repo.git.commit_info(sha).message}" for sha in shas)
    title = data.get("commit_title") or title
    detail = data["commit_message"] if data.get("commit_message") is not None else detail
    return f"{title}\n\n{detail}" if detail else title


def merge_pull(ctx: Ctx) -> Answer:
    """`PUT /pulls/{n}/merge` as the token's user (PyGithub's `pr.merge()`): a real merge commit, squash or rebase,
    made by `RepoState.merge` (push to the base, pull_request.closed with merged)."""
    pr = _pull(ctx)
    data = json_value(ctx) or {}
    if not isinstance(data, dict):
        raise ApiError(400, error("Problems parsing JSON", 400))
    typed(data, "PullRequest", ("commit_title", str), ("commit_message", str), ("sha", str), ("merge_method", str))
    method = data.get("merge_method") or "merge"
    if method not in MERGE_METHODS:
        raise ApiError(422, validation_failed("PullRequest", "merge_method", "invalid"))
    if pr.state != "open" or not ctx.repo.git.mergeable(pr.base_sha, pr.head_sha):
        raise ApiError(405, error("Pull Request is not mergeable", 405))
    if pr.draft:
        raise ApiError(405, error("Pull Request is still a draft", 405))
    if data.get("sha") and data["sha"] != pr.head_sha:
        raise ApiError(409, error("Head branch was modified. Review and try the merge again.", 409))
    try:
        sha = ctx.repo.merge(pr.number, user=ctx.login, message=_merge_message(ctx, pr, method, data), method=method)
    except GitError:
        raise ApiError(405, error("Pull Request is not mergeable", 405))
    return Answer({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


ROUTES = [
    ("GET", "/pulls", list_pulls),
    ("POST", "/pulls", create_pull),
    ("GET", "/pulls/{pull_number}", get_pull),
    ("PATCH", "/pulls/{pull_number}", update_pull),
    ("GET", "/pulls/{pull_number}/files", list_files),
    ("GET", "/pulls/{pull_number}/commits", list_commits),
    ("GET", "/pulls/{pull_number}/reviews", list_reviews),
    ("POST", "/pulls/{pull_number}/reviews", create_review),
    ("PUT", "/pulls/{pull_number}/merge", merge_pull),
]
