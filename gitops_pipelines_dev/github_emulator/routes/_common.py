"""Small helpers the route modules share."""

from __future__ import annotations

from ..http import ApiError, Ctx, not_found
from ..rest_payloads import validation_failed

MAX_COMMENT = 65536


def resolve(ctx: Ctx, ref: str) -> str:
    """The commit SHA ref names in this repository, or a 404 as GitHub answers it."""
    sha = ctx.repo.git.resolve(ref)
    if not sha:
        raise not_found()
    return sha


def require(data: dict, resource: str, *fields: str) -> None:
    for name in fields:
        if data.get(name) in (None, ""):
            raise ApiError(422, validation_failed(resource, name, "missing_field"))


def check_body(data: dict, resource: str) -> str:
    require(data, resource, "body")
    body = data["body"]
    if not isinstance(body, str):
        raise ApiError(422, validation_failed(resource, "body", "invalid"))
    if len(body) > MAX_COMMENT:
        raise ApiError(422, validation_failed(resource, "body", "custom",
                                              f"body is too long (maximum is {MAX_COMMENT} characters)"))
    return body
