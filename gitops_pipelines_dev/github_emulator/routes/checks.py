"""Check runs and commit statuses, the two ways the pipeline reports on a commit."""

from __future__ import annotations

from ..http import Answer, ApiError, Ctx, not_found
from ..models import CheckRun, CommitStatus, now
from ..rest_payloads import APP_ID, check_run, error, status, validation_failed
from ._common import require

RUN_STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {"success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required", "stale"}
STATUS_STATES = {"error", "failure", "pending", "success"}


def _apply(run: CheckRun, data: dict) -> None:
    for name in ("name", "details_url", "external_id", "started_at", "completed_at"):
        if name in data:
            setattr(run, name, data[name])
    if "status" in data:
        if data["status"] not in RUN_STATUSES:
            raise ApiError(422, validation_failed("CheckRun", "status", "invalid"))
        run.status = data["status"]
    if data.get("conclusion") is not None:
        if data["conclusion"] not in CONCLUSIONS:
            raise ApiError(422, validation_failed("CheckRun", "conclusion", "invalid"))
        run.conclusion, run.status = data["conclusion"], "completed"
    if run.status == "completed" and run.conclusion is None:
        raise ApiError(422, validation_failed("CheckRun", "conclusion", "missing_field",
                                              "conclusion is required when status is completed"))
    if run.status == "completed":
        run.completed_at = run.completed_at or now()
    if run.status != "queued":
        run.started_at = run.started_at or now()
    if "output" in data and isinstance(data["output"], dict):
        run.output = {**run.output, **data["output"]}


def create_check_run(ctx: Ctx) -> Answer:
    data = ctx.json()
    require(data, "CheckRun", "name", "head_sha")
    if ctx.repo.git.resolve(data["head_sha"]) != data["head_sha"]:
        raise ApiError(422, validation_failed("CheckRun", "head_sha", "invalid", "No commit found for SHA"))
    run = CheckRun(ctx.state.next_id(), ctx.state.next_id(), data["name"], data["head_sha"], started_at=now())
    _apply(run, {k: v for k, v in data.items() if k not in ("name", "head_sha")})
    ctx.repo.check_runs[run.id] = run
    body = check_run(ctx.repo, run)
    return Answer(body, 201, {"Location": body["url"]})


def update_check_run(ctx: Ctx) -> Answer:
    run = ctx.repo.check_runs.get(ctx.int_param("check_run_id"))
    if run is None:
        raise not_found()
    _apply(run, ctx.json())
    return Answer(check_run(ctx.repo, run))


def create_status(ctx: Ctx) -> Answer:
    data = ctx.json()
    sha = ctx.params["sha"]
    if ctx.repo.git.resolve(sha) is None:
        raise ApiError(422, validation_failed("Status", "sha", "invalid", f"No commit found for SHA: {sha}"))
    if data.get("state") not in STATUS_STATES:
        raise ApiError(422, validation_failed("Status", "state", "invalid"))
    st = CommitStatus(ctx.state.next_id(), ctx.repo.git.resolve(sha), data["state"], data.get("context") or "default",
                      data.get("description"), data.get("target_url"), ctx.login)
    ctx.repo.statuses.append(st)
    body = status(ctx.repo, st)
    return Answer(body, 201, {"Location": body["url"]})


def list_for_ref(ctx: Ctx) -> Answer:
    """`GET /commits/{ref}/check-runs`: the check runs on the commit ref names, newest first, filtered by check_name,
    status, app_id and filter (`latest`, the default: the newest run of each name; `all`)."""
    ref = ctx.params["ref"]
    sha = ctx.repo.git.resolve(ref)
    if not sha:
        raise ApiError(422, error(f"No commit found for SHA: {ref}", 422))
    query = ctx.query
    if query.get("status") and query["status"] not in ("queued", "in_progress", "completed"):
        raise ApiError(422, validation_failed("CheckRun", "status", "invalid"))
    if query.get("filter", "latest") not in ("latest", "all"):
        raise ApiError(422, validation_failed("CheckRun", "filter", "invalid"))
    runs = sorted((r for r in ctx.repo.check_runs.values() if r.head_sha == sha), key=lambda r: r.id, reverse=True)
    if query.get("filter", "latest") == "latest":
        newest: dict[str, CheckRun] = {}
        for run in runs:
            newest.setdefault(run.name, run)
        runs = list(newest.values())
    if query.get("check_name"):
        runs = [r for r in runs if r.name == query["check_name"]]
    if query.get("status"):
        runs = [r for r in runs if r.status == query["status"]]
    if query.get("app_id") and query["app_id"] != str(APP_ID):
        runs = []  # every check run here is the emulator's App's
    page = ctx.paginate(runs)
    page.body = {"total_count": len(runs), "check_runs": [check_run(ctx.repo, r) for r in page.body]}
    return page


ROUTES = [
    ("GET", "/commits/{ref:path}/check-runs", list_for_ref),  # routes/__init__.py puts it before /commits/{ref}
    ("POST", "/check-runs", create_check_run),
    ("PATCH", "/check-runs/{check_run_id}", update_check_run),
    ("POST", "/statuses/{sha}", create_status),
]
