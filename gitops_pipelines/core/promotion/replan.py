"""After a merge: apply the approved plan as it is, or re-plan on the merge commit first (pure decisions).

The approved plan may be applied only if the merge commit holds exactly the unit source it was made from (its
`source_hash`) and the state has not moved since. Otherwise the unit is planned again on the merge commit; the new
plan is applied without a person only when it makes the same resource changes as the approved one, else a person
reads the diff and launches the deploy with the new plan_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from gitops_pipelines.core.plan_diff import PlanDiff, plan_diff
from gitops_pipelines.core.plan_store.models import PlanRecord
from gitops_pipelines.core.vocabulary import deploy_stage, plan_stage

APPLY_STORED, REPLAN = "apply_stored", "replan"
APPLY_NEW, WAIT_FOR_PERSON = "apply_new", "wait_for_person"
MAIN_MOVED = "main moved under the unit"
STATE_CHANGED = "the state changed since the plan"
NOT_BOUND = "the approved plan records no source hash (it was made before plans were bound to their source)"


@dataclass(frozen=True)
class Decision:
    """What to do with the approved plan after the merge, why, and the words for the run log and the PR."""

    outcome: Literal["apply_stored", "replan"]
    reasons: tuple[str, ...]  # empty for apply_stored
    message: str
    plan_id: str

    @property
    def reason(self) -> str | None:
        return " and ".join(self.reasons) or None


class Replanned(NamedTuple):
    """The verdict on a plan made again on the merge commit, and the diff it rests on."""

    outcome: Literal["apply_new", "wait_for_person"]
    diff: PlanDiff

    def message(self, approved: PlanRecord, new: PlanRecord) -> str:
        """What happened and, when a person has to act, what they do next; names unit, environment, change, plans."""
        b = new.binding
        where = _where(new)
        made = f"on {_short(b.commit)}" if b.commit else "on the merge commit"
        if self.outcome == APPLY_NEW:
            return (f"{where}: the new plan {new.short_id} (made {made}) makes exactly the same resource changes as "
                    f"the approved plan {approved.short_id}, so it is applied without another approval.")
        deploy = f"{b.unit}/{deploy_stage(b.environment)}"
        return (f"{where}: nothing was applied. The new plan {new.short_id} (made {made}) differs from the approved "
                f"plan {approved.short_id}: {self.diff.summary()}. A person decides: read the diff, then launch "
                f"{deploy}{_for(b.change)} from the Dagster UI with plan_id {new.plan_id}; if the difference is not "
                f"wanted, fix main and materialize {b.unit}/{plan_stage(b.environment)} again.")


def decide_after_merge(approved: PlanRecord, merge_source_hash: str, stale: bool, *,
                       merge_commit: str | None = None) -> Decision:
    """apply_stored when the merge commit holds the approved unit source and the state has not moved; else replan.

    merge_source_hash: `source_hash` of the unit on the merge commit, with the approved plan's lock file as the
    one in use when the merge commit commits none. stale: the state moved since the plan (e.g. its serial)."""
    bound = approved.binding.source_hash
    reasons = []
    if bound is None:
        reasons.append(NOT_BOUND)
    elif bound != merge_source_hash:
        reasons.append(MAIN_MOVED)
    if stale:
        reasons.append(STATE_CHANGED)
    where, plan = _where(approved), approved.short_id
    at = f"the merge commit {_short(merge_commit)}" if merge_commit else "the merge commit"
    if not reasons:
        return Decision(APPLY_STORED, (), f"{where}: {at} holds the unit source that plan {plan} was approved for "
                        "and the state has not moved: applying the stored plan.", approved.plan_id)
    b = approved.binding
    head = f" for head {_short(b.head_sha)}" if b.head_sha else ""
    return Decision(REPLAN, tuple(reasons),
                    f"{where}: not applying the approved plan {plan}{head}: {' and '.join(reasons)}. "
                    f"Planning {b.unit}/{plan_stage(b.environment)} again on {at}; the diff to the approved plan is "
                    "posted on the pull request, and the new plan is applied without a person only if its resource "
                    "changes are identical.", approved.plan_id)


def after_replan(approved_json: dict, new_json: dict) -> Replanned:
    """("apply_new", diff) when the new plan makes the same resource changes as the approved one, else
    ("wait_for_person", diff)."""
    diff = plan_diff(approved_json, new_json)
    return Replanned(APPLY_NEW if diff.identical else WAIT_FOR_PERSON, diff)


def _where(record: PlanRecord) -> str:
    return record.binding.where


def _for(change: str | None) -> str:
    return f" for {change}" if change else ""


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "(unknown)"
