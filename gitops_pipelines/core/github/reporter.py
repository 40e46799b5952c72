"""Feedback on the pull request for one unit's stage: a check run on the head commit (pending, then the verdict),
syntax diagnostics as annotations, and for a plan the ONE comment per unit and environment, edited on each push.
Everything said passes through the redactor given (plus the configuration's credentials, when it is known)."""

from __future__ import annotations

from typing import Any

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.github.rendering import (check_name, check_outcome, code_span, comment_marker,
                                                    failure_summary, plan_comment)
from gitops_pipelines.core.github.work_item import DEFAULT_PATTERNS, check_work_item
from gitops_pipelines.core.markdown import fenced
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.terraform import error_blocks
from gitops_pipelines.core.vocabulary import PLAN, POLICY, Stage, pr_number


def _names(unit: str, stage: Stage) -> list[tuple[str, str]]:
    """(what is rendered, check name) pairs a stage reports: a plan reports its plan and its policy."""
    if stage.is_plan:
        env = stage.environment
        return [(PLAN, check_name(unit, PLAN, env)), (POLICY, check_name(unit, POLICY, env))]
    return [(stage.kind, check_name(unit, stage.kind))]


def _redactor(config: GitopsConfig, redactor: Redactor | None) -> Redactor:
    """The given redactor plus every credential the configuration names (any stage may quote any of them)."""
    secrets: list[str] = []
    for settings in [*config.environments, config.ephemeral]:
        secrets += settings.secret_values()
    return redactor.child(secrets) if redactor else Redactor(secrets)


def start(gateway: Any, head_sha: str, unit: str, stage: Stage) -> None:
    """Mark the stage's check run(s) on the head commit as in progress."""
    for _, name in _names(unit, stage):
        gateway.set_check(head_sha, name, "in_progress", title="Running",
                          summary=f"{code_span(unit)}: {stage} is running.")


def publish(gateway: Any, config: GitopsConfig, change: str, head_sha: str, unit: str, stage: Stage,
            result: Any, *, redactor: Redactor | None = None) -> list[int]:
    """Conclude the stage's check run(s) from its result; for a plan also upsert the unit+environment comment.
    Returns the ids of the comment parts written (empty when none)."""
    unit_cfg = config.unit(unit)
    redact = _redactor(config, redactor)
    for what, name in _names(unit, stage):
        outcome = check_outcome(what, result, unit_path=unit_cfg.path, redactor=redact)
        gateway.set_check(head_sha, name, "completed", conclusion=outcome.conclusion, title=outcome.title,
                          summary=outcome.summary, text=outcome.text, annotations=outcome.annotations)
    number = pr_number(change)
    if not stage.is_plan or number is None:
        return []
    env = stage.environment
    body = plan_comment(unit, env, result, redactor=redact)
    return gateway.upsert_comment(number, comment_marker(unit, env), body)


def fail(gateway: Any, head_sha: str, unit: str, stage: Stage, message: str, *,
         redactor: Redactor | None = None, config: GitopsConfig | None = None, output: str = "") -> None:
    """The stage could not produce a result (Terraform or configuration error): fail its check with the reason,
    fenced and redacted (with config, its credentials are masked too); Terraform's diagnostics in `output` go
    whole into the check run's text, masked the same way."""
    redact = _redactor(config, redactor) if config is not None else (redactor or Redactor())
    summary = failure_summary(unit, stage, message, redactor=redact)
    errors = error_blocks(output)
    detail = fenced(redact(errors)[-60000:]) if errors else None  # Terraform's whole diagnostics, masked
    for _, name in _names(unit, stage):
        gateway.set_check(head_sha, name, "completed", conclusion="failure", title="Could not run", summary=summary,
                          text=detail)


def work_item(gateway: Any, config: GitopsConfig, change: str) -> str | None:
    """Run the `work_item` check of the pull request on its head; returns the conclusion (None: not a PR)."""
    number = pr_number(change)
    if number is None:
        return None
    patterns = config.github.work_item_patterns if config.github else list(DEFAULT_PATTERNS)
    return check_work_item(gateway, gateway.pull(number), patterns).conclusion
