"""Plain HTML pages for the demo, under /ui (no GitHub API path starts so): the repositories, a repository's pull
requests, issues and Releases, an issue, and a pull request with Approve and Merge buttons.

They are not GitHub's API: no token is asked (the emulator serves 127.0.0.1 only), none is shown, and nothing here is
recorded as an exchange, so the contract check never sees them. Approve and Merge run the REST handlers themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable
from urllib.parse import parse_qsl, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import actions, views
from .layout import UI, esc, page, url
from .pull import pull

if TYPE_CHECKING:
    from ..state import EmulatorState

MAX_FORM = 16_384


class _Missing(Exception):
    pass


def _repo(state: "EmulatorState", params: dict):
    repo = state.repo(params["owner"], params["repo"])
    if repo is None:
        raise _Missing(f"The emulator has no repository {params['owner']}/{params['repo']}.")
    repo.refresh()
    return repo


def _number(params: dict, within: dict, what: str) -> int:
    number = int(params["number"]) if params["number"].isdigit() else -1
    if number not in within:
        raise _Missing(f"There is no {what} #{params['number']} here.")
    return number


def _index(state, request: Request, form: dict) -> Response:
    return HTMLResponse(views.index(state))


def _repository(state, request: Request, form: dict) -> Response:
    return HTMLResponse(views.repository(_repo(state, request.path_params)))


def _issue(state, request: Request, form: dict) -> Response:
    repo = _repo(state, request.path_params)
    number = _number(request.path_params, repo.issues, "issue")
    if number in repo.pulls:
        return RedirectResponse(url(repo.owner, repo.name, "pull", number), 303)
    return HTMLResponse(views.issue(repo, number))


def _pull(state, request: Request, form: dict) -> Response:
    repo = _repo(state, request.path_params)
    number = _number(request.path_params, repo.pulls, "pull request")
    return HTMLResponse(pull(repo, number, notice=request.query_params.get("done")))


def _act(state, request: Request, form: dict) -> Response:
    """POST .../approve or .../merge as the form's login (default alice to approve, the maintainer to merge): act,
    then show the pull request again (303), or what the API refused on its page."""
    repo = _repo(state, request.path_params)
    number = _number(request.path_params, repo.pulls, "pull request")
    pr, what = repo.pulls[number], request.path_params["action"]
    if what not in ("approve", "merge"):
        raise _Missing(f"A pull request's page has Approve and Merge, not {what!r}.")
    login = form.get("login") or (actions.REVIEWER if what == "approve" else actions.MERGER)
    try:
        if what == "approve":
            actions.approve(repo, pr, login, form.get("head_sha"))
        else:
            actions.merge(repo, pr, login, form.get("merge_method", "merge"), form.get("head_sha"))
    except actions.Refusal as refused:
        return HTMLResponse(pull(repo, number, problem=f"{what}: {refused.message} ({refused.status})"),
                            refused.status)
    done = "approved" if what == "approve" else "merged"
    return RedirectResponse(f"{url(repo.owner, repo.name, 'pull', number)}?done={done}", 303)


def _cross_site(request: Request) -> bool:
    """A form posted from another site (the browser says so in Origin) must not act as a demo user."""
    origin = request.headers.get("origin")
    return bool(origin) and origin != "null" and urlsplit(origin).netloc != request.headers.get("host")


def _serve(state: "EmulatorState", view: Callable) -> Callable:
    async def run(request: Request) -> Response:
        form: dict[str, str] = {}
        if request.method == "POST":
            if _cross_site(request):
                return HTMLResponse(page("Refused", [], "<h1>Refused</h1><p>Forms post from these pages only.</p>"),
                                    403)
            raw = await request.body()
            form = dict(parse_qsl(raw[:MAX_FORM].decode("utf-8", "replace")))
        return await run_in_threadpool(_locked, state, view, request, form)

    return run


def _locked(state, view, request: Request, form: dict) -> Response:
    with state.lock:  # as the API does: one request at a time sees and changes the state
        try:
            return view(state, request, form)
        except _Missing as missing:
            return HTMLResponse(page("Not found", [], f"<h1>Not found</h1><p>{esc(missing)}</p>"), 404)


def _not_found(state, request: Request, form: dict) -> Response:
    raise _Missing(f"No page at {request.url.path}; the repositories are at {UI}/.")


def page_routes(state: "EmulatorState") -> list[Route]:
    """The /ui routes, to register before the API's catch-all 404."""
    repo = UI + "/{owner}/{repo}"
    return [
        Route(UI, _serve(state, _index), methods=["GET"]),
        Route(UI + "/", _serve(state, _index), methods=["GET"]),
        Route(repo, _serve(state, _repository), methods=["GET"]),
        Route(repo + "/issues/{number}", _serve(state, _issue), methods=["GET"]),
        Route(repo + "/pull/{number}", _serve(state, _pull), methods=["GET"]),
        Route(repo + "/pull/{number}/{action:str}", _serve(state, _act), methods=["POST"]),
        Route(UI + "/{path:path}", _serve(state, _not_found), methods=["GET", "POST"]),
    ]
