"""Merge-time feedback on GitHub around an apply: a Deployment per unit+environment that goes queued ->
in_progress -> success | failure, the apply result in the unit+environment comment, and a comment when a deploy is
refused. Each helper is safe to repeat (a re-executed Dagster step edits what the first attempt made)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gitops_pipelines.core.redact import Redactor

from .comments import marker_key, parts_of
from .models import Deployment
from .rendering import (apply_section, comment_marker, gate_marker, refusal_comment, refusal_resolved, rejoin_parts,
                        status_description, with_apply_section)

ACTIVE = ("queued", "in_progress")


def deployment_environment(unit: str, environment: str) -> str:
    """The GitHub environment a unit's deploys go to, e.g. `storage/prod`."""
    return f"{unit}/{environment}"


def _redactor(secrets: Iterable[str], redactor: Redactor | None) -> Redactor:
    return redactor.child(secrets) if redactor else Redactor(secrets)


def find_deployment(gateway: Any, *, sha: str, unit: str, environment: str, plan_id: str) -> Deployment | None:
    """The newest deployment of plan_id at sha to unit/environment (one an earlier attempt made), if any."""
    found = [d for d in gateway.deployments(environment=deployment_environment(unit, environment), sha=sha)
             if d.payload.get("plan_id") == plan_id]
    return max(found, key=lambda d: d.id, default=None)


def start_deploy(gateway: Any, *, sha: str, unit: str, environment: str, change: str, plan_id: str,
                 run_url: str | None = None, production: bool = False) -> int:
    """Mark the apply of plan_id at sha as started on GitHub (queued, then in_progress with the run's log link);
    returns the deployment id. A repeat reuses the deployment of the same plan and commit."""
    existing = find_deployment(gateway, sha=sha, unit=unit, environment=environment, plan_id=plan_id)
    if existing is None:
        deployment_id = gateway.create_deployment(
            sha, deployment_environment(unit, environment), description=f"{change}: apply plan {plan_id[:12]}",
            payload={"unit": unit, "environment": environment, "change": change, "plan_id": plan_id},
            production=production)
        latest = None
    else:
        deployment_id = existing.id
        statuses = gateway.deployment_statuses(deployment_id)
        latest = statuses[-1] if statuses else None
    if latest is not None and latest.state == "in_progress" and latest.log_url == (run_url or ""):
        return deployment_id  # this very run already said so
    if latest is None or latest.state not in ACTIVE:
        gateway.set_deployment_status(deployment_id, "queued", description=f"Waiting to apply plan {plan_id[:12]}",
                                      log_url=run_url)
    gateway.set_deployment_status(deployment_id, "in_progress", description=f"Applying plan {plan_id[:12]}",
                                  log_url=run_url)
    return deployment_id


def finish_deploy(gateway: Any, deployment_id: int, *, ok: bool, summary: str, run_url: str | None = None,
                  secrets: Iterable[str] = (), redactor: Redactor | None = None) -> int:
    """Conclude the deployment: success or failure, summary as its one-line description (at most 140 characters,
    redacted); returns the status id. A repeat with the same outcome adds nothing."""
    state = "success" if ok else "failure"
    description = status_description(_redactor(secrets, redactor)(summary))
    statuses = gateway.deployment_statuses(deployment_id)
    if statuses and statuses[-1].state == state and statuses[-1].description == description:
        return statuses[-1].id
    return gateway.set_deployment_status(deployment_id, state, description=description, log_url=run_url)


def publish_apply_result(gateway: Any, number: int, unit: str, environment: str, result_summary: str, plan_id: str,
                         run_url: str | None = None, *, ok: bool = True, secrets: Iterable[str] = (),
                         redactor: Redactor | None = None) -> list[int]:
    """Add (or replace) the "Applied" section at the top of the ONE unit+environment comment on #number, keeping the
    plan below it; create the comment when there is none. After a successful apply, a refusal comment of an earlier
    attempt says it is resolved. Returns the ids of the comment parts in use."""
    redact = _redactor(secrets, redactor)
    marker = comment_marker(unit, environment)
    existing = gateway.comments(number)
    content = rejoin_parts(existing, marker_key(marker)) or ""
    section = apply_section(unit, environment, result_summary, plan_id, ok=ok, run_url=run_url, redactor=redact)
    ids = gateway.upsert_comment(number, marker, with_apply_section(marker, content, section))
    gate = gate_marker(unit, environment)
    if ok and parts_of(existing, marker_key(gate)):
        resolved = refusal_resolved(unit, environment, plan_id, run_url=run_url)
        if rejoin_parts(existing, marker_key(gate)) != resolved.split("\n", 1)[1]:
            gateway.upsert_comment(number, gate, resolved)
    return ids


def publish_refusal(gateway: Any, number: int, unit: str, environment: str, reasons: Iterable[str], what_to_do: str,
                    *, run_url: str | None = None, secrets: Iterable[str] = (),
                    redactor: Redactor | None = None) -> list[int]:
    """Say on #number that the deploy of unit to environment did not happen, why and what to do: ONE comment per
    unit+environment, edited in place on each refused attempt. Returns the ids of the comment parts in use."""
    body = refusal_comment(unit, environment, list(reasons), what_to_do, run_url=run_url,
                           redactor=_redactor(secrets, redactor))
    return gateway.upsert_comment(number, gate_marker(unit, environment), body)
