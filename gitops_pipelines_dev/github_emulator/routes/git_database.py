"""GitHub's Git database API over the real repository: refs (get, create) and annotated tag objects (create, get).

As on GitHub, `POST /git/tags` only writes the tag object; the tag exists for git once `POST /git/refs` points
`refs/tags/<name>` at that object, which makes it an annotated tag for clones, `git fetch --tags` and `GET /tags`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..git import GitError
from ..http import Answer, ApiError, Ctx, not_found
from ..rest_git import git_tag
from ..rest_payloads import error, git_ref, validation_failed
from ._common import invalid_request, not_supplied

TAG_FIELDS = ("tag", "message", "object", "type")
TAG_TYPES = ("commit", "tree", "blob")  # what the contract allows; the emulator tags commits only


def get_ref(ctx: Ctx) -> Answer:
    """`GET /git/ref/{ref}`: the object the ref points at, unpeeled (type `tag` for an annotated tag's ref)."""
    full = "refs/" + ctx.params["ref"].strip("/")
    found = ctx.repo.git.ref_object(full)
    if not found:
        raise not_found()
    return Answer(git_ref(ctx.repo, full, *found))


def create_ref(ctx: Ctx) -> Answer:
    """`POST /git/refs`: a new ref at a commit, or (outside `refs/heads/`) at an annotated tag object."""
    data = ctx.json()
    ref, sha = data.get("ref") or "", data.get("sha") or ""
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, error("Reference name must start with 'refs/' and have at least two slashes.", 422))
    git = ctx.repo.git
    if not git.valid_ref_name(ref):
        raise ApiError(422, error(f"{ref} is not a valid reference name", 422))
    kind = git.object_type(sha) if isinstance(sha, str) else None
    if kind not in ("commit", "tag"):
        raise ApiError(422, error("Object does not exist", 422))
    if kind == "tag" and ref.startswith("refs/heads/"):  # git itself refuses a branch that is not a commit
        raise ApiError(422, error("Reference update failed: a branch must point at a commit, not a tag object", 422))
    if git.ref_object(ref):
        raise ApiError(422, error("Reference already exists", 422))
    git.update_ref(ref, sha, old="0" * 40)
    ctx.repo.refresh(pusher=ctx.login)
    body = git_ref(ctx.repo, ref, sha, kind)
    return Answer(body, 201, {"Location": body["url"]})


def create_tag(ctx: Ctx) -> Answer:
    """`POST /git/tags`: an annotated tag object of a commit, tagged by `tagger` (default: the token's user, now).
    No ref is created (see the module docstring)."""
    data = ctx.json()
    missing = sorted(name for name in TAG_FIELDS if data.get(name) is None)
    if missing:
        raise invalid_request(not_supplied(missing))
    for name in TAG_FIELDS:
        if not isinstance(data[name], str):
            raise invalid_request(f"For 'properties/{name}', {data[name]!r} is not a string.")
    if data["type"] not in TAG_TYPES:
        members = ", ".join(f'"{t}"' for t in TAG_TYPES)
        raise invalid_request(f"For 'properties/type', \"{data['type']}\" is not a member of [{members}].")
    tagger, when = _tagger(ctx, data.get("tagger"))
    git, name, sha = ctx.repo.git, data["tag"], data["object"]
    if not name or not git.valid_ref_name(f"refs/tags/{name}"):
        raise ApiError(422, validation_failed("Tag", "tag", "invalid", f"{name!r} is not a valid tag name"))
    kind = git.object_type(sha)
    if kind is None:
        raise ApiError(422, validation_failed("Tag", "object", "invalid", f"Object does not exist: {sha}"))
    if kind != data["type"]:
        raise ApiError(422, validation_failed("Tag", "object", "invalid", f"{sha} is a {kind}, not a {data['type']}"))
    if kind != "commit":
        raise ApiError(422, validation_failed("Tag", "object", "invalid",
                                              f"{sha} is a {kind}: the emulator tags commits only"))
    try:
        tag_sha = git.create_tag_object(name, sha, data["message"], tagger, when)
    except GitError as exc:  # what git's own checks (mktag runs fsck's) refuse, e.g. a date before 1970
        why = str(exc).partition(": ")[2]  # git's own words, without the repository's path
        raise ApiError(422, validation_failed("Tag", "", "custom", f"git refused the tag: {why}"))
    body = git_tag(ctx.repo, git.tag_info(tag_sha))
    return Answer(body, 201, {"Location": body["url"]})


def _tagger(ctx: Ctx, value) -> tuple[tuple[str, str], datetime]:
    """(name, email) and time of the tag, from the request's `tagger` or the token's user now."""
    if value is None:
        return (ctx.login, ctx.state.email(ctx.login)), datetime.now(timezone.utc)
    if not isinstance(value, dict):
        raise invalid_request(f"For 'properties/tagger', {value!r} is not an object.")
    missing = sorted(name for name in ("name", "email") if value.get(name) is None)
    if missing:
        raise invalid_request(not_supplied(missing))
    name, email, date = value["name"], value["email"], value.get("date")
    if not all(isinstance(v, str) and v.strip() and not set(v) & set("<>\n") for v in (name, email)):
        raise ApiError(422, validation_failed("Tag", "tagger", "invalid",
                                              "a tagger's name and email are text without <, > or newlines"))
    if date is None:
        return (name, email), datetime.now(timezone.utc)
    try:
        when = datetime.fromisoformat(date) if isinstance(date, str) else None
    except ValueError:
        when = None
    if when is None:
        raise invalid_request(f"For 'properties/date', {date!r} is not a date-time (YYYY-MM-DDTHH:MM:SSZ).")
    return (name, email), when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def get_tag(ctx: Ctx) -> Answer:
    """`GET /git/tags/{tag_sha}` (outside the contract subset): the tag object a `git-tag` answer's url names."""
    info = ctx.repo.git.tag_info(ctx.params["tag_sha"])
    if info is None:
        raise not_found()
    return Answer(git_tag(ctx.repo, info))


ROUTES = [
    ("GET", "/git/ref/{ref:path}", get_ref),
    ("POST", "/git/refs", create_ref),
    ("POST", "/git/tags", create_tag),
    ("GET", "/git/tags/{tag_sha}", get_tag),
]
