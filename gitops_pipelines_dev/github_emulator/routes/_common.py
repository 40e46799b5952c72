"""Small helpers the route modules share."""

from __future__ import annotations

import json

from ..http import ApiError, Ctx, not_found
from ..rest_payloads import error, validation_failed

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


def typed(data: dict, resource: str, *fields: tuple[str, type | tuple[type, ...]]) -> None:
    """422 `invalid` for a field present with a value of the wrong JSON type (null is left to the caller)."""
    for name, kind in fields:
        kinds, value = kind if isinstance(kind, tuple) else (kind,), data.get(name)
        if value is not None and not (bool in kinds if isinstance(value, bool) else isinstance(value, kinds)):
            raise ApiError(422, validation_failed(resource, name, "invalid"))


def unprocessable(*messages: str) -> ApiError:
    """GitHub's other 422 shape (`validation-error-simple`): plain messages, as for a refused review."""
    return ApiError(422, error("Unprocessable Entity", 422, errors=list(messages)))


def invalid_request(detail: str) -> ApiError:
    """GitHub's 422 for a body that breaks the endpoint's JSON schema: `Invalid request.`, then what is wrong."""
    return ApiError(422, error(f"Invalid request.\n\n{detail}", 422))


def not_supplied(names: list[str]) -> str:
    """GitHub's words for missing fields: `"tag" wasn't supplied.` or `"object", "tag" weren't supplied.`"""
    quoted = ", ".join(f'"{name}"' for name in names)
    return f"{quoted} {'wasn' if len(names) == 1 else 'weren'}'t supplied."


def json_value(ctx: Ctx):
    """The request body as any JSON value (some endpoints take an array); an empty body is None."""
    if not ctx.raw_body or not ctx.raw_body.strip():
        return None
    try:
        return json.loads(ctx.raw_body)
    except json.JSONDecodeError:
        raise ApiError(400, error("Problems parsing JSON", 400))
