"""Merges wait for the checks: a merge starts only once the PR checks at its head have finished, passed or failed (the
promotion gate in the deploy then decides). Otherwise a pull request merged while its new head is still being checked
deploys on checks that never finished: the race Atlantis had (runatlantis/atlantis#6529).

A waiting merge stays in the cursor (`TriggerCursor.pending_merges`), so a restarted sensor still has it, and is asked
about again every tick. One that waits longer than `MERGE_WAIT_LIMIT` starts anyway, so nothing waits forever: the gate
refuses to deploy it unless every stage passed at that head."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from gitops_pipelines.core.timestamps import parse_time
from gitops_pipelines.core.triggers.cursor import PendingMerge, TriggerCursor
from gitops_pipelines.core.triggers.decisions import Decision, RunMerge, RunPrChecks

MERGE_WAIT_LIMIT = timedelta(hours=2)  # longer than the slowest PR checks (an ephemeral deploy with slow resources)

ChecksInFlight = Callable[[RunMerge], str | None]
"""A merge -> why the PR checks of its (pr, head, unit) are still running (`run 1a2b3c4d is STARTED`), None if not."""


@dataclass
class MergeRelease:
    """What to do with the pending merges this tick: start some, keep the others; one line each for the log."""

    start: list[RunMerge] = field(default_factory=list)
    pending: list[PendingMerge] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # why each kept merge waits
    overdue: list[str] = field(default_factory=list)  # merges started although their checks still run


def release_merges(pending: Sequence[PendingMerge], in_flight: ChecksInFlight, now: datetime, *,
                   limit: timedelta = MERGE_WAIT_LIMIT) -> MergeRelease:
    """Start the pending merges whose head has no PR checks in flight, and those that waited past `limit`."""
    out = MergeRelease()
    for item in pending:
        merge = item.merge
        why = in_flight(merge)
        if why is None:
            out.start.append(merge)
            continue
        waited = now - (parse_time(item.since) or now)
        about = f"#{merge.pr} {merge.unit}: merge of {merge.head_sha[:12]}"
        if waited >= limit:
            out.start.append(merge)
            out.overdue.append(
                f"{about} has waited {_minutes(waited)} for the PR checks at that head ({why}), past the "
                f"{_minutes(limit)} limit: starting it anyway; the promotion gate refuses to deploy unless every "
                f"stage passed at {merge.head_sha[:12]}")
        else:
            out.pending.append(item)
            out.waiting.append(f"{about} waits for the PR checks at that head ({why}; waiting {_minutes(waited)} "
                               f"of at most {_minutes(limit)})")
    return out


def hold_merges(decisions: Sequence[Decision], cursor: TriggerCursor, in_flight: ChecksInFlight, now: datetime, *,
                limit: timedelta = MERGE_WAIT_LIMIT) -> tuple[list[Decision], TriggerCursor, MergeRelease]:
    """Move the merges among `decisions` into the cursor's pending merges, then give back, after every other decision,
    the pending ones that may start now. PR checks decided in the same batch for a merge's head count as running."""
    checked = {(d.pr, d.head_sha, d.unit) for d in decisions if isinstance(d, RunPrChecks)}
    cursor = cursor.copy()
    pending = {item.merge.run_key: item for item in cursor.pending_merges}
    stamp = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for merge in (d for d in decisions if isinstance(d, RunMerge)):
        known = pending.get(merge.run_key)
        if known is None:
            pending[merge.run_key] = PendingMerge(merge, stamp)
        elif merge.merge_sha and not known.merge.merge_sha:  # a poll may not have seen the merge commit
            pending[merge.run_key] = replace(known, merge=merge)

    def running(merge: RunMerge) -> str | None:
        if (merge.pr, merge.head_sha, merge.unit) in checked:
            return "its checks are requested in this same tick"
        return in_flight(merge)

    release = release_merges(list(pending.values()), running, now, limit=limit)
    cursor.pending_merges = release.pending
    return [d for d in decisions if not isinstance(d, RunMerge)] + release.start, cursor, release


def _minutes(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
