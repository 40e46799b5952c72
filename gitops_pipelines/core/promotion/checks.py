"""The checks before a release or a manual deploy: a person approved exactly this stored plan, the environment
before it was deployed, the release approved this plan (the PR stages and reviews are the gate's: gate.py)."""

from __future__ import annotations

from collections.abc import Sequence

from gitops_pipelines.core.config import EnvironmentConfig
from gitops_pipelines.core.errors import PlanRefused, UsageError
from gitops_pipelines.core.github.approvals import decide_required
from gitops_pipelines.core.github.models import Review
from gitops_pipelines.core.plan_store import PlanRecord
from gitops_pipelines.core.promotion.deploys import deployable_plan
from gitops_pipelines.core.workspace import Workspace


def check_approval(record: PlanRecord, approved_plan_id: str, approved_by: str) -> None:
    """A person approved exactly this stored plan, and said who they are."""
    b = record.binding
    if not approved_by.strip():
        raise UsageError(f"{b.unit}/{b.environment}: approved_by is empty; say who approves")
    if approved_plan_id.strip() != record.plan_id:
        raise PlanRefused(
            f"{b.unit}/{b.environment}: plan_id {approved_plan_id.strip()[:12] or '(empty)'} is not the stored "
            f"{b.environment} plan for {b.change}; the stored plan is {record.plan_id} (see the latest "
            f"{b.unit}/{b.environment}_plan materialization). Review that plan and launch again with its plan_id")


def check_deployed(ws: Workspace, unit: str, environment: str, change: str, deployed_plan_id: str | None) -> None:
    """The earlier environment's deploy succeeded for this change (its plan is recorded as applied)."""
    if not deployed_plan_id or ws.store.applied(deployed_plan_id) is None:
        raise PlanRefused(f"{unit}/{environment}: {environment}_deploy has not succeeded for {change}; deploy to "
                          f"{environment} first (the merge job runs {unit}/{environment}_deploy), then try again")


def check_released(record: PlanRecord, released_plan_id: str | None) -> None:
    """The release decision was made for this very plan."""
    b = record.binding
    if released_plan_id != record.plan_id:
        seen = f"it approved plan {released_plan_id[:12]}" if released_plan_id else "there is none"
        raise PlanRefused(f"{b.unit}/{b.environment}: no release approves plan {record.short_id} for {b.change} "
                          f"({seen}); launch {b.unit}/release for {b.change} with plan_id {record.plan_id} first")


def approved_plan(ws: Workspace, unit: str, environment: str, change: str, *, recorded_plan_id: str | None,
                  approved_plan_id: str, approved_by: str, previous_environment: str | None = None,
                  previous_deployed_plan_id: str | None = None) -> PlanRecord:
    """The stored plan a person approved: the one the plan stage recorded for this change, exactly the plan_id they
    saw, and (when an environment comes before this one) already deployed there."""
    record = deployable_plan(ws, unit, environment, change, recorded_plan_id)
    check_approval(record, approved_plan_id, approved_by)
    if previous_environment is not None:
        check_deployed(ws, unit, previous_environment, change, previous_deployed_plan_id)
    return record


def check_approver(unit: str, environment: EnvironmentConfig, change: str, approved_by: str, *,
                   reviews: Sequence[Review] | None, head_sha: str, author: str | None) -> str:
    """The person named in a UI approval may approve this environment: listed in its `approvers` (when it lists
    any) and, unless `approver_must_review: false`, holding an approving GitHub review of the change's head (their
    own pull request never counts). `reviews` None means GitHub is not configured: only the list can be checked.
    Returns the login as GitHub spells it."""
    who = approved_by.strip().removeprefix("@")
    where = f"{unit}/{environment.name}"
    logins = {a.casefold(): a for a in environment.approvers if "/" not in a}
    teams = [a for a in environment.approvers if "/" in a]
    if environment.approvers and who.casefold() not in logins:
        # team membership needs GitHub's teams API, which this deployment does not use: teams match nobody yet
        also = f" (teams are not resolved yet: {', '.join(teams)}; list the logins)" if teams else ""
        raise PlanRefused(f"{where}: {who!r} is not an approver of {environment.name}; approvers: "
                          f"{', '.join(sorted(logins.values())) or 'none by login'}{also}. Ask one of them to "
                          "launch the run with their GitHub login as approved_by")
    if reviews is None or not environment.approver_must_review:
        return logins.get(who.casefold(), who)
    tally = decide_required(reviews, head_sha, required=1, author=author)
    approving = {r.casefold(): r for r in tally.approvers}
    if who.casefold() not in approving:
        if author and who.casefold() == author.casefold():
            why = "they opened the pull request, and an author never approves their own change"
        elif who.casefold() in {r.casefold() for r in tally.stale}:
            why = f"their approving review is of an older commit, not of the head {head_sha[:12]}"
        else:
            why = f"GitHub has no approving review by them of the head {head_sha[:12]}"
        raise PlanRefused(f"{where}: approved_by {who!r} is refused for {change}: {why}. Approve the pull request's "
                          f"head on GitHub as {who}, then launch again (GitHub proves who approves)")
    return approving[who.casefold()]
