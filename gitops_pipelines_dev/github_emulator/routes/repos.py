"""Repository, branches, commits, compare, contents and tags: all read from the real git repo (refs and tag objects
are in git_database)."""

from __future__ import annotations

from ..http import Answer, ApiError, Ctx, not_found
from ..models import now
from ..rest_git import branch, commit, comparison, content
from ..rest_payloads import error, repository, tag, user, validation_failed
from ..rest_pulls import rate_limit
from ._common import resolve


def get_rate_limit(ctx: Ctx) -> Answer:
    return Answer(rate_limit(ctx.state))


def get_user(ctx: Ctx) -> Answer:
    """`GET /user` (outside the contract subset): who the token acts as (see EmulatorState.register_user)."""
    body = user(ctx.state, ctx.login)
    body.update({"name": ctx.login, "company": None, "blog": "", "location": None, "email": None,
                 "hireable": None, "bio": None, "twitter_username": None, "public_repos": 0, "public_gists": 0,
                 "followers": 0, "following": 0, "created_at": "2024-01-01T00:00:00Z", "updated_at": now()})
    return Answer(body)


def get_repo(ctx: Ctx) -> Answer:
    return Answer(repository(ctx.repo))


def get_branch(ctx: Ctx) -> Answer:
    name = ctx.params["branch"]
    sha = ctx.repo.git.resolve(f"refs/heads/{name}")
    if not sha:
        raise ApiError(404, error("Branch not found", 404))
    return Answer(branch(ctx.repo, name, sha))


def get_protection(ctx: Ctx) -> Answer:
    if not ctx.repo.git.resolve(f"refs/heads/{ctx.params['branch']}"):
        raise ApiError(404, error("Branch not found", 404))
    if ctx.repo.protection is None or ctx.params["branch"] != ctx.repo.default_branch:
        raise ApiError(404, error("Branch not protected", 404))
    return Answer(ctx.repo.protection)


def list_commits(ctx: Ctx) -> Answer:
    git = ctx.repo.git
    if not git.branches():
        raise ApiError(409, error("Git Repository is empty.", 409))
    sha = resolve(ctx, ctx.query.get("sha") or ctx.repo.default_branch)
    shas = git.log(sha, path=ctx.query.get("path"))
    page = ctx.paginate(shas)
    page.body = [commit(ctx.repo, s) for s in page.body]
    return page


def get_commit(ctx: Ctx) -> Answer:
    sha = ctx.repo.git.resolve(ctx.params["ref"])
    if not sha:
        raise ApiError(422, validation_failed("Commit", "sha", "invalid", f"No commit found for SHA: {ctx.params['ref']}"))
    return Answer(commit(ctx.repo, sha, files=True))


def combined_status(ctx: Ctx) -> Answer:
    from ..rest_payloads import combined_status as build

    ref = ctx.params["ref"]
    return Answer(build(ctx.repo, ref, resolve(ctx, ref)))


def compare(ctx: Ctx) -> Answer:
    base, sep, head = ctx.params["basehead"].partition("...")
    if not sep:
        raise not_found()
    base, head = base.split(":")[-1], head.split(":")[-1]
    base_sha, head_sha = resolve(ctx, base), resolve(ctx, head)
    shas = list(reversed(ctx.repo.git.log(head_sha, exclude=base_sha)))
    if "page" in ctx.query or "per_page" in ctx.query:
        page = ctx.paginate(shas, default=250)
        return Answer(comparison(ctx.repo, base, head, base_sha, head_sha, page.body), headers=page.headers)
    return Answer(comparison(ctx.repo, base, head, base_sha, head_sha))


def get_content(ctx: Ctx) -> Answer:
    """`GET /contents/{path}?ref=`: a file (base64 content), a symlink, or a directory's entries, read from git."""
    ref = ctx.query.get("ref") or ctx.repo.default_branch
    sha = ctx.repo.git.resolve(ref)
    if not sha:
        raise ApiError(404, error(f"No commit found for the ref {ref}", 404))
    path = ctx.params["path"].strip("/")
    entries = ctx.repo.git.tree_entries(sha, path)
    if path:
        found = [e for e in entries if e.path == path]
        if not found:
            raise not_found()
        if found[0].kind != "tree":
            return Answer(content(ctx.repo, found[0], ref, full=True))
        entries = ctx.repo.git.tree_entries(sha, path + "/")
    return Answer([content(ctx.repo, e, ref) for e in entries])


def list_tags(ctx: Ctx) -> Answer:
    names = ctx.repo.git.git("tag", "--sort=-v:refname").split()
    tags = ctx.repo.git.tags()
    page = ctx.paginate(names)
    page.body = [tag(ctx.repo, name, tags[name]) for name in page.body]
    return page


TOP_ROUTES = [("GET", "/rate_limit", get_rate_limit), ("GET", "/user", get_user)]
ROUTES = [
    ("GET", "", get_repo),
    ("GET", "/branches/{branch:path}/protection", get_protection),
    ("GET", "/branches/{branch:path}", get_branch),
    ("GET", "/commits", list_commits),
    ("GET", "/commits/{ref:path}/status", combined_status),
    ("GET", "/commits/{ref:path}", get_commit),
    ("GET", "/compare/{basehead:path}", compare),
    ("GET", "/contents/{path:path}", get_content),
    ("GET", "/tags", list_tags),
]
