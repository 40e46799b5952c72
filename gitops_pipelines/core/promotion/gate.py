"""The promotion gate, checked before every apply of a change to an environment: at the change's merged head every PR
stage passed, enough people approved that very commit, and the plan to apply is bound to it.

Pure: the driver (a Dagster asset, the CLI) gathers `GateInputs`; `evaluate_gate` reports every failing condition,
not only the first, so one run failure or PR comment says everything that has to be done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.errors import GateRefused
from gitops_pipelines.core.github.approvals import RequiredApprovals, decide_required
from gitops_pipelines.core.github.models import Review
from gitops_pipelines.core.vocabulary import (APPROVAL, EPHEMERAL_TEST, MODULE_REFS, PLAN, POLICY, PR_CHECKS_JOB,
                                              RULES, SYNTAX, WORK_ITEM, plan_stage)

HEAD = "head"  # the condition of a gate asked about a change whose merged head nobody knows


@dataclass(frozen=True)
class StageResult:
    """The latest result the flow recorded for one PR stage of the change, and the head commit it ran at."""

    stage: str
    passed: bool
    head_sha: str | None


@dataclass(frozen=True, kw_only=True)
class GateInputs:
    """What the driver gathers for one apply of a change to an environment. Every field is explicit: a gate that
    defaulted a stage list or an approval count could pass by omission."""

    unit: str
    environment: str
    change: str
    head_sha: str  # the change's merged head (the PR head that was merged)
    merge_sha: str | None  # the merge commit, after merge
    required_stages: tuple[str, ...]  # e.g. ("syntax", "ephemeral_test", "test_plan", "policy", "work_item")
    stages: Mapping[str, StageResult]  # by stage name
    reviews: Sequence[Review]
    author: str | None  # the PR author, whose own review never counts
    approvals_required: int
    plan_id: str | None  # the stored plan to apply
    plan_head_sha: str | None  # the head SHA the plan is bound to
    plan_commit: str | None  # the commit the plan was made on (the merge commit when planned after the merge)
    plan_required: bool = True  # False only for what applies no plan (a module's release)
    rules_changed: bool = False  # the change edits the rules it is judged by (recorded at PR time)
    rules_owners: tuple[str, ...] = ()  # whose approving review of the head such a change needs


@dataclass(frozen=True)
class GateRefusal:
    """One failed condition: what failed (a stage name, `approval` or `plan`), why, and what to do."""

    condition: str
    message: str
    action: str

    def __str__(self) -> str:
        return f"{self.message}: {self.action}"


@dataclass(frozen=True)
class GateVerdict:
    """Whether the change may be applied; every refusal; who approved the merged head (for the audit trail)."""

    passed: bool
    refusals: tuple[GateRefusal, ...]
    approvers: tuple[str, ...]
    unit: str = ""
    environment: str = ""
    change: str = ""
    head_sha: str = ""
    plan_id: str | None = None

    def explain(self) -> str:
        """Plain text that is also safe as markdown: a headline, then one line per refusal."""
        subject = f"{self.unit}/{self.environment}: {self.change}"
        head = _short(self.head_sha)
        if self.passed:
            by = f"approved by {', '.join(self.approvers)}" if self.approvers else "no approval required"
            plan = f", plan {_short(self.plan_id)} is bound to it" if self.plan_id else ""
            return f"{subject} may be applied at the merged head {head}: every PR stage passed, {by}{plan}"
        lines = [f"{subject} may not be applied at the merged head {head} "
                 f"({_count(len(self.refusals), 'problem')}):"]
        lines += [f"- {refusal}" for refusal in self.refusals]
        return "\n".join(lines)


def evaluate_gate(inputs: GateInputs) -> GateVerdict:
    """Check every condition an apply of the change needs at its merged head; each failing one is a refusal."""
    verdict = dict(unit=inputs.unit, environment=inputs.environment, change=inputs.change, head_sha=inputs.head_sha,
                   plan_id=inputs.plan_id)
    if not inputs.head_sha:  # without it every binding below would compare against nothing
        refusal = GateRefusal(HEAD, f"{_where(inputs)}: the merged head of {inputs.change} is not known",
                              f"check that {inputs.change} is merged and its head SHA is recorded, then try again")
        return GateVerdict(passed=False, refusals=(refusal,), approvers=(), **verdict)
    tally = decide_required(inputs.reviews, inputs.head_sha, required=inputs.approvals_required,
                            author=inputs.author)
    refusals = [r for r in (_stage_refusal(inputs, name) for name in inputs.required_stages) if r]
    refusals += [r for r in (_approval_refusal(inputs, tally), _rules_refusal(inputs, tally),
                             _plan_refusal(inputs) if inputs.plan_required else None) if r]
    return GateVerdict(passed=not refusals, refusals=tuple(refusals), approvers=tally.approvers, **verdict)


def enforce_gate(inputs: GateInputs) -> GateVerdict:
    """evaluate_gate, raising GateRefused (exit code 3) with every refusal when the change may not be applied."""
    verdict = evaluate_gate(inputs)
    if not verdict.passed:
        raise GateRefused(verdict.explain(), unit=inputs.unit, environment=inputs.environment, change=inputs.change,
                          refusals=verdict.refusals)
    return verdict


def required_pr_stages(config: GitopsConfig, unit: UnitConfig | str) -> tuple[str, ...]:
    """The PR stages a change of the unit must pass: syntax, its module references and the ephemeral test; for a project also the plan of
    its first environment and its policy check; the work-item check when GitHub is configured."""
    unit_cfg = config.unit(unit) if isinstance(unit, str) else unit
    stages = [SYNTAX, MODULE_REFS, EPHEMERAL_TEST]
    if unit_cfg.is_project:
        stages += [plan_stage(config.unit_environments(unit_cfg)[0].name).name, POLICY]
    if config.github is not None:
        stages.append(WORK_ITEM)
    return tuple(stages)


# -- the conditions ----------------------------------------------------------------------------------------------
def _stage_refusal(inputs: GateInputs, name: str) -> GateRefusal | None:
    where, head, change = _where(inputs), _short(inputs.head_sha), inputs.change
    checks = f"the PR checks for {change} (the {PR_CHECKS_JOB} job) at {head}"
    result = inputs.stages.get(name)
    if result is None:
        return GateRefusal(name, f"{where}: {name} has not run for {change} at {head}", f"run {checks}")
    if result.head_sha != inputs.head_sha:
        outcome = "passed" if result.passed else "failed"
        at = _short(result.head_sha) if result.head_sha else "an unknown commit"
        return GateRefusal(name, f"{where}: {name} {outcome} at {at} but the merged head of {change} is {head}",
                           f"re-run {checks}")
    if not result.passed:
        return GateRefusal(name, f"{where}: {name} failed for {change} at {head}", _fix_failed(inputs, name))
    return None


def _fix_failed(inputs: GateInputs, name: str) -> str:
    if name == WORK_ITEM:
        return f"reference an issue in the description of {inputs.change} (Fixes #N), then re-run the PR checks"
    where = f"the {inputs.unit}/{name} check" if name == POLICY else f"{inputs.unit}/{name}"
    return (f"see {where} for {inputs.change}; re-run it if the failure was transient, "
            "otherwise fix the cause in a new pull request")


def _approval_refusal(inputs: GateInputs, tally: RequiredApprovals) -> GateRefusal | None:
    if tally.approved:
        return None
    head = _short(inputs.head_sha)
    counted = f" (approved by {', '.join(tally.approvers)})" if tally.approvers else ""
    problems = []
    if tally.blocked_by:
        problems.append(f"changes requested by {', '.join(tally.blocked_by)}")
    problems.append(f"{len(tally.approvers)} of {_count(tally.required, 'required approving review')} "
                    f"of the merged head {head}{counted}")
    if tally.stale:
        problems.append(f"{', '.join(tally.stale)} approved an older commit, not {head} (stale)")
    if tally.self_approved:
        problems.append(f"the author {tally.author}'s own approval does not count")
    todo = []
    if tally.missing:
        again = f" ({', '.join(tally.stale)} may re-review)" if tally.stale else ""
        todo.append(f"ask for {_count(tally.missing, 'more approving review')} of {head}{again}")
    if tally.blocked_by:
        todo.append(f"ask {', '.join(tally.blocked_by)} to approve {head} or dismiss their review")
    return GateRefusal(APPROVAL, f"{_where(inputs)}: {inputs.change} is not approved: {'; '.join(problems)}",
                       " and ".join(todo))


def _rules_refusal(inputs: GateInputs, tally: RequiredApprovals) -> GateRefusal | None:
    """A change to the rules needs a rules owner among the approvers of its head (teams are not resolved)."""
    if not inputs.rules_changed:
        return None
    owners = {o.casefold() for o in inputs.rules_owners if "/" not in o}
    if owners & {a.casefold() for a in tally.approvers}:
        return None
    listed = ", ".join(inputs.rules_owners) or "nobody (set rules_owners in gitops.yaml on main)"
    return GateRefusal(RULES, f"{_where(inputs)}: {inputs.change} edits the rules it is judged by (see its rules "
                              f"check) and no rules owner approved {_short(inputs.head_sha)}",
                       f"ask one of {listed} to review and approve the head")


def _plan_refusal(inputs: GateInputs) -> GateRefusal | None:
    where, head, change, env = _where(inputs), _short(inputs.head_sha), inputs.change, inputs.environment
    replan = f"re-plan: materialize {inputs.unit}/{plan_stage(env)} for {change} again and review the new plan_id"
    if not inputs.plan_id:
        return GateRefusal(PLAN, f"{where}: there is no stored {env} plan for {change}",
                           f"materialize {inputs.unit}/{plan_stage(env)} for {change}, review the plan, then apply")
    bound_to_head = inputs.plan_head_sha == inputs.head_sha
    # a plan made after the merge is bound to the merge commit (never match two unknowns: None == None)
    bound_to_merge = inputs.merge_sha is not None and inputs.plan_commit == inputs.merge_sha
    if bound_to_head or bound_to_merge:
        return None
    made_at = inputs.plan_commit or inputs.plan_head_sha
    made = f"made at {_short(made_at)}" if made_at else "made at an unknown commit"
    if inputs.plan_head_sha and inputs.plan_head_sha != made_at:
        made += f" for head {_short(inputs.plan_head_sha)}"
    merge = f" or the merge commit {_short(inputs.merge_sha)}" if inputs.merge_sha else ""
    return GateRefusal(PLAN, f"{where}: plan {_short(inputs.plan_id)} was {made}, not at the merged head {head}{merge}",
                       replan)


def _where(inputs: GateInputs) -> str:
    return f"{inputs.unit}/{inputs.environment}"


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "(unknown)"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")
