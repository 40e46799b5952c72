"""Deployments and their statuses: what GitHub shows on a pull request's timeline and on the Environments page.

As on GitHub: creating a deployment verifies the commit's status contexts (commit statuses and check runs) unless
`required_contexts` says otherwise (409 when one is not successful), a status without `environment` keeps the last
one, `log_url` also sets `target_url`, and a `success` marks the earlier successful deployments of that environment
`inactive` (`auto_inactive`, on by default). Not emulated: `auto_merge` (the emulator never merges a ref; the
gateway always sends `auto_merge: false`). No `deployment`/`deployment_status` webhooks are sent: the contract holds
no example payload of them to shape one from.
"""

from __future__ import annotations

from ..http import Answer, ApiError, Ctx, not_found
from ..models import Deployment, DeploymentStatus, now
from ..rest_payloads import deployment, deployment_status, error, validation_failed
from ._common import require

STATES = {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
PASSING_CHECKS = {"success", "neutral", "skipped"}
MAX_STATUS_DESCRIPTION = 140


def _deployment(ctx: Ctx) -> Deployment:
    found = ctx.repo.deployments.get(ctx.int_param("deployment_id"))
    if found is None:
        raise not_found()
    return found


def _typed(data: dict, resource: str, name: str, kind: type | tuple[type, ...]) -> None:
    if name in data and data[name] is not None and not isinstance(data[name], kind):
        raise ApiError(422, validation_failed(resource, name, "invalid"))


def _contexts(ctx: Ctx, sha: str) -> dict[str, str]:
    """Each status context and check-run name on sha -> its latest state (`success` when it passed)."""
    states: dict[str, str] = {}
    for st in ctx.repo.statuses:  # oldest first, so the latest wins
        if st.sha == sha:
            states[st.context] = st.state
    for run in sorted(ctx.repo.check_runs.values(), key=lambda r: r.id):
        if run.head_sha == sha:
            passed = run.status == "completed" and run.conclusion in PASSING_CHECKS
            states[run.name] = "success" if passed else (run.conclusion or run.status)
    return states


def _refuse_unless_contexts_pass(ctx: Ctx, ref: str, sha: str, required: list[str] | None) -> None:
    states = _contexts(ctx, sha)
    names = sorted(states) if required is None else required
    failing = [{"context": name, "state": states.get(name, "missing")} for name in names
               if states.get(name) != "success"]
    if failing:
        raise ApiError(409, error(f"Conflict: Commit status checks failed for {ref}.", 409,
                                  errors=[{"contexts": failing, "resource": "Deployment", "field": "required_contexts",
                                           "code": "invalid"}]))


def create_deployment(ctx: Ctx) -> Answer:
    data = ctx.json()
    require(data, "Deployment", "ref")
    for name, kind in (("ref", str), ("task", str), ("environment", str), ("description", str),
                       ("payload", (dict, str)), ("required_contexts", list), ("auto_merge", bool),
                       ("transient_environment", bool), ("production_environment", bool)):
        _typed(data, "Deployment", name, kind)
    ref = data["ref"]
    sha = None if ref.startswith("-") else ctx.repo.git.resolve(ref)
    if sha is None:
        raise ApiError(422, error(f"No ref found for: {ref}", 422))
    required = data.get("required_contexts")
    _refuse_unless_contexts_pass(ctx, ref, sha, None if required is None else [str(c) for c in required])
    environment = data.get("environment") or "production"
    production = data.get("production_environment")
    found = Deployment(ctx.state.next_id(), sha, ref, environment, ctx.login, task=data.get("task") or "deploy",
                       payload=data.get("payload") if data.get("payload") not in (None, "") else {},
                       description=data.get("description"),
                       transient_environment=bool(data.get("transient_environment", False)),
                       production_environment=environment == "production" if production is None else production,
                       original_environment=environment)
    ctx.repo.deployments[found.id] = found
    body = deployment(ctx.repo, found)
    return Answer(body, 201, {"Location": body["url"]})


def list_deployments(ctx: Ctx) -> Answer:
    found = sorted(ctx.repo.deployments.values(), key=lambda d: d.id, reverse=True)  # newest first, as on GitHub
    for name in ("sha", "ref", "task", "environment"):
        if name in ctx.query:
            found = [d for d in found if getattr(d, name) == ctx.query[name]]
    page = ctx.paginate(found)
    page.body = [deployment(ctx.repo, d) for d in page.body]
    return page


def _inactivate_earlier(ctx: Ctx, current: Deployment) -> None:
    """auto_inactive: earlier non-transient, non-production deployments of the environment that succeeded."""
    for d in ctx.repo.deployments.values():
        if (d.id < current.id and d.environment == current.environment and d.state == "success"
                and not d.transient_environment and not d.production_environment):
            d.statuses.append(DeploymentStatus(ctx.state.next_id(), "inactive", ctx.login, environment=d.environment))
            d.updated_at = now()


def create_deployment_status(ctx: Ctx) -> Answer:
    found = _deployment(ctx)
    data = ctx.json()
    if data.get("state") not in STATES:
        raise ApiError(422, validation_failed("DeploymentStatus", "state", "invalid"))
    for name in ("description", "environment", "log_url", "target_url", "environment_url"):
        _typed(data, "DeploymentStatus", name, str)
    _typed(data, "DeploymentStatus", "auto_inactive", bool)
    description = data.get("description") or ""
    if len(description) > MAX_STATUS_DESCRIPTION:
        raise ApiError(422, validation_failed("DeploymentStatus", "description", "custom",
                                              f"description is too long (maximum is {MAX_STATUS_DESCRIPTION} "
                                              "characters)"))
    environment = data.get("environment") or (found.statuses[-1].environment if found.statuses else found.environment)
    found.environment = environment
    st = DeploymentStatus(ctx.state.next_id(), data["state"], ctx.login, description=description,
                          environment=environment, log_url=data.get("log_url") or data.get("target_url") or "",
                          environment_url=data.get("environment_url") or "")
    found.statuses.append(st)
    found.updated_at = st.created_at
    if st.state == "success" and data.get("auto_inactive", True):
        _inactivate_earlier(ctx, found)
    body = deployment_status(ctx.repo, found, st)
    return Answer(body, 201, {"Location": body["url"]})


def list_deployment_statuses(ctx: Ctx) -> Answer:
    found = _deployment(ctx)
    page = ctx.paginate(list(reversed(found.statuses)))  # newest first, as on GitHub
    page.body = [deployment_status(ctx.repo, found, st) for st in page.body]
    return page


ROUTES = [
    ("GET", "/deployments", list_deployments),
    ("POST", "/deployments", create_deployment),
    ("GET", "/deployments/{deployment_id}/statuses", list_deployment_statuses),
    ("POST", "/deployments/{deployment_id}/statuses", create_deployment_status),
]
