"""The HTTP behaviour every route shares, as GitHub has it: authentication, the rate limit and its headers,
ETags with 304s that cost nothing, pagination with Link headers, injected faults, and a record of each exchange.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .rest_payloads import error
from .state import Exchange

if TYPE_CHECKING:
    from .repo_state import RepoState
    from .state import EmulatorState

MAX_PER_PAGE = 100


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None):
        super().__init__(body.get("message"))
        self.status, self.body, self.headers = status, body, headers or {}


def not_found() -> ApiError:
    return ApiError(404, error("Not Found", 404))


@dataclass
class Answer:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """One request as a handler sees it."""

    state: "EmulatorState"
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    raw_body: bytes
    login: str
    repo: "RepoState | None" = None

    def json(self) -> dict:
        try:
            data = json.loads(self.raw_body or b"{}")
        except json.JSONDecodeError:
            raise ApiError(400, error("Problems parsing JSON", 400))
        if not isinstance(data, dict):
            raise ApiError(400, error("Problems parsing JSON", 400))
        return data

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise not_found()

    def paginate(self, items: list, *, default: int = 30) -> Answer:
        """One page of items with GitHub's Link header (first/prev/next/last)."""
        try:
            per_page = min(max(int(self.query.get("per_page", default)), 1), MAX_PER_PAGE)
            page = max(int(self.query.get("page", 1)), 1)
        except ValueError:
            raise ApiError(422, error("Invalid page or per_page", 422))
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = []
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
            if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
                query = urlencode({**self.query, "per_page": per_page, "page": number})
                links.append(f'<{self.state.base_url}{self.path}?{query}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return Answer(items[(page - 1) * per_page: page * per_page], headers=headers)


def _etag(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in wanted or etag.removeprefix("W/") in wanted


def _token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer", "basic") and value.strip() else None


def endpoint(state: "EmulatorState", handler: Callable[[Ctx], Answer], template: str, *, repo_scoped: bool):
    """Wrap a plain handler into a Starlette endpoint with GitHub's shared behaviour."""

    async def run(request: Request) -> Response:
        raw = await request.body()
        return await run_in_threadpool(_serve, state, handler, template, repo_scoped, request, raw)

    return run


def _serve(state, handler, template, repo_scoped, request: Request, raw: bytes) -> Response:
    with state.lock:
        state.requests += 1
        state.rate.roll()
        headers = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Media-Type": "github.v3; format=json",
                   "X-GitHub-Request-Id": uuid.uuid4().hex[:20].upper()}
        counted = False
        try:
            fault = state.take_fault()
            if fault:
                status, extra, message = fault
                raise ApiError(status, error(message, status), extra)
            token = _token(request.headers.get("authorization"))
            if token is None:
                raise ApiError(401, error("Requires authentication", 401))
            is_rate_limit = template == "/rate_limit"
            if state.rate.remaining == 0 and not is_rate_limit:
                raise ApiError(403, error("API rate limit exceeded for user.", 403))
            counted = not is_rate_limit
            ctx = Ctx(state, request.method, request.url.path, dict(request.path_params),
                      dict(parse_qsl(request.url.query)), raw, state.login_for_token(token))
            if repo_scoped:
                ctx.repo = state.repo(ctx.params["owner"], ctx.params["repo"])
                if ctx.repo is None:
                    raise not_found()
                ctx.repo.refresh()
            answer = handler(ctx)
        except ApiError as exc:
            answer = Answer(exc.body, exc.status, exc.headers)
        body = b"" if answer.body is None else json.dumps(answer.body).encode()
        headers.update(answer.headers)
        if request.method == "GET" and answer.status == 200:
            headers["ETag"] = _etag(body)
            headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
            if _etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
                answer, body, counted = Answer(None, 304), b"", False  # GitHub does not charge a 304
                headers.pop("Content-Type")
        if counted:
            state.rate.used += 1
            state.counted_requests += 1
        if answer.status not in (401,):
            headers.update(state.rate.headers())
        state.exchanges.append(Exchange(request.method, request.url.path, request.url.query, dict(request.headers),
                                        raw, answer.status, headers, body, template))
        return Response(body, status_code=answer.status, headers=headers)


def openapi_template(starlette_path: str) -> str:
    """`/repos/{owner}/{repo}/git/ref/{ref:path}` -> `/repos/{owner}/{repo}/git/ref/{ref}`."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", starlette_path)
