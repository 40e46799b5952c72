"""The promotion gate as a deploy asset asks it: gather what the flow recorded for the change (the PR stages'
materializations, the reviews on GitHub) and let the core decide; a refusal fails the step without retries."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gitops_pipelines.core.plan_store import PlanRecord
from gitops_pipelines.core.promotion.checks import check_approver
from gitops_pipelines.core.promotion.commits import ChangeCommits
from gitops_pipelines.core.promotion.gate import GateInputs, GateVerdict, enforce_gate, required_pr_stages
from gitops_pipelines.core.vocabulary import RULES_CHANGED, SYNTAX, pr_number
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.lineage import latest_metadata, stage_results


def gate(context: dg.AssetExecutionContext, ws: Workspace, github: Any, unit: str, environment: str,
         commits: ChangeCommits, record: PlanRecord | None) -> GateVerdict:
    """Every condition for applying this change to the environment, checked at its merged head (GateRefused)."""
    config = ws.config
    change = context.partition_key
    required = required_pr_stages(config, unit)
    reviews, author = change_reviews(context, github, change)
    binding = record.binding if record is not None else None
    return enforce_gate(GateInputs(
        unit=unit, environment=environment, change=change, head_sha=commits.head_sha, merge_sha=commits.merge_sha,
        required_stages=required, stages=stage_results(context, unit, required, change), reviews=reviews,
        author=author, approvals_required=_required_approvals(config, environment),
        plan_id=record.plan_id if record is not None else None,
        plan_head_sha=binding.head_sha if binding is not None else None,
        plan_commit=getattr(binding, "commit", None) if binding is not None else None,
        plan_required=record is not None or bool(config.unit_environments(config.unit(unit))),
        rules_changed=_rules_changed(context, unit, change, commits.head_sha), rules_owners=tuple(config.rules_owners)))


def _rules_changed(context: dg.AssetExecutionContext, unit: str, change: str, head_sha: str) -> bool:
    """What syntax recorded at the head: whether the change edits the rules (unknown counts as edited)."""
    metadata = latest_metadata(context, key(unit, SYNTAX), change) or {}
    if metadata.get("head_sha") != head_sha:
        return False  # syntax did not pass at this head: the gate refuses for that already
    return bool(metadata.get(RULES_CHANGED, True))


def _required_approvals(config, environment: str | None) -> int:
    if environment and any(e.name == environment for e in config.environments):
        return config.environment(environment).approvals.required
    return config.approvals.required


def change_reviews(context: dg.AssetExecutionContext, github: Any, change: str) -> tuple[list, str | None]:
    """The pull request's reviews and author from GitHub; none (and no author) without a `github:` section."""
    number = pr_number(change)
    if github is None or number is None:
        return [], None
    gateway = github.gateway(context.log.debug)
    try:
        return gateway.reviews(number), gateway.pull(number).author
    finally:
        gateway.close()


def proven_approver(context: dg.AssetExecutionContext, ws: Workspace, github: Any, unit: str, environment: str,
                    commits: ChangeCommits, approved_by: str) -> str:
    """The person a UI launch names, checked against the environment's approvers and their GitHub review."""
    reviews, author = change_reviews(context, github, context.partition_key)
    return check_approver(unit, ws.config.environment(environment), context.partition_key, approved_by,
                          reviews=reviews if github is not None else None, head_sha=commits.head_sha, author=author)
