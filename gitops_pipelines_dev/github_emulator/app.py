"""The Starlette application: the routes of the contract subset (plus a few PyGithub needs), the demo's /ui pages,
and GitHub's 404."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from .http import Answer, Ctx, endpoint, not_found, openapi_template
from .pages import page_routes
from .routes import REPO_ROUTES, TOP_ROUTES
from .state import EmulatorState

REPO_PREFIX = "/repos/{owner}/{repo}"
ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE"]


def _unknown(ctx: Ctx) -> Answer:
    raise not_found()


def build_app(state: EmulatorState) -> Starlette:
    routes = []
    for method, path, handler in TOP_ROUTES:
        routes.append(Route(path, endpoint(state, handler, openapi_template(path), repo_scoped=False), methods=[method]))
    for method, path, handler in REPO_ROUTES:
        full = REPO_PREFIX + path
        routes.append(Route(full, endpoint(state, handler, openapi_template(full), repo_scoped=True), methods=[method]))
    routes += page_routes(state)  # the demo's HTML under /ui: not GitHub's API, never recorded or validated
    routes.append(Route("/{path:path}", endpoint(state, _unknown, None, repo_scoped=False), methods=ALL_METHODS))
    return Starlette(routes=routes)

