"""Releases: create (which tags the target commit in git unless the tag exists), edit, list, latest, by id or tag."""

from __future__ import annotations

from ..http import Answer, ApiError, Ctx, not_found
from ..models import Release
from ..rest_payloads import error, release, validation_failed
from ._common import require, typed

MAKE_LATEST = ("true", "false", "legacy")
EDITABLE = (("tag_name", str), ("target_commitish", str), ("name", str), ("body", str), ("draft", bool),
            ("prerelease", bool), ("make_latest", str))


def list_releases(ctx: Ctx) -> Answer:
    releases = sorted(ctx.repo.releases.values(), key=lambda r: (r.created_at, r.id), reverse=True)
    page = ctx.paginate(releases)
    page.body = [release(ctx.repo, r) for r in page.body]
    return page


def create_release(ctx: Ctx) -> Answer:
    data = ctx.json()
    require(data, "Release", "tag_name")
    _check_make_latest(data)
    tag = data["tag_name"]
    _check_tag_name(ctx, tag)
    if any(r.tag_name == tag for r in ctx.repo.releases.values()):
        raise ApiError(422, validation_failed("Release", "tag_name", "already_exists"))
    target = data.get("target_commitish") or ctx.repo.default_branch
    if tag not in ctx.repo.git.tags() and not ctx.repo.git.resolve(target):
        raise ApiError(422, validation_failed("Release", "target_commitish", "invalid"))
    rel = Release(ctx.state.next_id(), tag, target, data.get("name") or tag, data.get("body"),
                  bool(data.get("draft", False)), bool(data.get("prerelease", False)), ctx.login,
                  make_latest=data.get("make_latest") or "true")
    ctx.repo.add_release(rel)
    body = release(ctx.repo, rel)
    return Answer(body, 201, {"Location": body["url"]})


def update_release(ctx: Ctx) -> Answer:
    """`PATCH /releases/{id}`: change the fields given (RepoState.edit_release). A published release whose new
    tag_name does not exist gets it at target_commitish; an existing tag is kept as it is. The emulator has no
    discussions, so any discussion_category_name is unknown: 404, as the contract documents."""
    rel = _release(ctx)
    data = ctx.json()
    typed(data, "Release", *EDITABLE, ("discussion_category_name", str))
    if data.get("discussion_category_name"):
        raise ApiError(404, error("Not Found", 404))
    _check_make_latest(data)
    changes = {key: data[key] for key, _ in EDITABLE if data.get(key) is not None}
    tag = changes.get("tag_name", rel.tag_name)
    _check_tag_name(ctx, tag)
    if any(r.tag_name == tag and r.id != rel.id for r in ctx.repo.releases.values()):
        raise ApiError(422, validation_failed("Release", "tag_name", "already_exists"))
    target = changes.get("target_commitish", rel.target_commitish)
    published = not changes.get("draft", rel.draft)
    if published and tag not in ctx.repo.git.tags() and not ctx.repo.git.resolve(target):
        raise ApiError(422, validation_failed("Release", "target_commitish", "invalid"))
    return Answer(release(ctx.repo, ctx.repo.edit_release(rel, changes)))


def _release(ctx: Ctx) -> Release:
    rel = ctx.repo.releases.get(ctx.int_param("release_id"))
    if rel is None:
        raise not_found()
    return rel


def _check_tag_name(ctx: Ctx, tag) -> None:
    if not isinstance(tag, str) or not ctx.repo.git.valid_ref_name(f"refs/tags/{tag}"):
        raise ApiError(422, validation_failed("Release", "tag_name", "invalid"))


def _check_make_latest(data: dict) -> None:
    if data.get("make_latest") is not None and data["make_latest"] not in MAKE_LATEST:
        raise ApiError(422, validation_failed("Release", "make_latest", "invalid"))


def get_release(ctx: Ctx) -> Answer:
    """`GET /releases/{id}` (outside the contract subset), drafts included (the token can push)."""
    return Answer(release(ctx.repo, _release(ctx)))


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
    ("GET", "/releases/{release_id}", get_release),
    ("PATCH", "/releases/{release_id}", update_release),
]
