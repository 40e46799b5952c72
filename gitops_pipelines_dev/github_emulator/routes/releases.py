"""Releases: create (which tags the target commit in git), list, latest, by tag."""

from __future__ import annotations

from ..http import Answer, ApiError, Ctx, not_found
from ..models import Release
from ..rest_payloads import release, validation_failed
from ._common import require


def list_releases(ctx: Ctx) -> Answer:
    releases = sorted(ctx.repo.releases.values(), key=lambda r: (r.created_at, r.id), reverse=True)
    page = ctx.paginate(releases)
    page.body = [release(ctx.repo, r) for r in page.body]
    return page


def create_release(ctx: Ctx) -> Answer:
    data = ctx.json()
    require(data, "Release", "tag_name")
    tag = data["tag_name"]
    if any(r.tag_name == tag for r in ctx.repo.releases.values()):
        raise ApiError(422, validation_failed("Release", "tag_name", "already_exists"))
    target = data.get("target_commitish") or ctx.repo.default_branch
    if tag not in ctx.repo.git.tags() and not ctx.repo.git.resolve(target):
        raise ApiError(422, validation_failed("Release", "target_commitish", "invalid"))
    rel = Release(ctx.state.next_id(), tag, target, data.get("name") or tag, data.get("body"),
                  bool(data.get("draft", False)), bool(data.get("prerelease", False)), ctx.login,
                  make_latest=str(data.get("make_latest", "true")))
    ctx.repo.add_release(rel)
    body = release(ctx.repo, rel)
    return Answer(body, 201, {"Location": body["url"]})


def latest_release(ctx: Ctx) -> Answer:
    rel = ctx.repo.latest_release()
    if rel is None:
        raise not_found()
    return Answer(release(ctx.repo, rel))


def release_by_tag(ctx: Ctx) -> Answer:
    for rel in ctx.repo.releases.values():
        if rel.tag_name == ctx.params["tag"] and not rel.draft:
            return Answer(release(ctx.repo, rel))
    raise not_found()


ROUTES = [
    ("GET", "/releases", list_releases),
    ("POST", "/releases", create_release),
    ("GET", "/releases/latest", latest_release),
    ("GET", "/releases/tags/{tag:path}", release_by_tag),
]
