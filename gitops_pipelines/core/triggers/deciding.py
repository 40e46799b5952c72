"""GitHub state -> what the flow should do about it (pure: the caller fetches, this decides).

Two inputs give the same decisions: a poll of the open pull requests (`decide_poll`) and parsed webhook deliveries
(`decide_events`). Both read and return a `TriggerCursor`, a small JSON document that remembers, per open pull
request, the head commit already checked, the units it touches and the review verdicts already recorded, plus the
last webhook delivery id. Every run decision carries a deterministic `run_key` (`<pr>:<head sha>:<unit>:<job>`), so a
sensor that restarts from an older cursor asks for the same runs again, which Dagster (and the sensor) skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from gitops_pipelines.core.github.approvals import approval_for
from gitops_pipelines.core.github.events import PullRequestEvent, ReviewEvent
from gitops_pipelines.core.github.models import PullRequest, Review
from gitops_pipelines.core.timestamps import parse_time
from gitops_pipelines.core.triggers.cursor import PullMemory, TriggerCursor
from gitops_pipelines.core.triggers.decisions import (AddPartition, CleanUp, Decision, MergedElsewhere,
                                                      RecordApproval, RunMerge, RunPrChecks)

# GitHub's updated_at has one-second resolution: a review in the same second as the last poll leaves the list
# unchanged, so a pull request updated this close to a poll is looked at once more on the next tick.
RECHECK_WINDOW = timedelta(seconds=5)
_RUN_ON = frozenset({"opened", "synchronize", "reopened"})
MAIN_BRANCH = "main"  # github.main_branch's default


# -- inputs ----------------------------------------------------------------------------------------------------
class GitHubReads(Protocol):
    """What deciding may ask GitHub (GitHubGateway has all three)."""

    def changed_files(self, number: int) -> list[str]: ...

    def reviews(self, number: int) -> list[Review]: ...

    def pull(self, number: int) -> PullRequest: ...


AffectedUnits = Callable[[list[str]], Sequence[Any]]  # changed files -> units with .name and .kind


def units_fn(config: Any) -> AffectedUnits:
    """changes.affected_units bound to a GitopsConfig."""
    from gitops_pipelines.core.changes import affected_units  # noqa: PLC0415 - changes imports hcl2, only needed here

    return lambda files: affected_units(config, files)


# -- deciding --------------------------------------------------------------------------------------------------
class _Decider:
    def __init__(self, cursor: TriggerCursor, github: GitHubReads, affected: AffectedUnits, main_branch: str):
        self.cursor, self.github, self.affected = cursor.copy(), github, affected
        self.main_branch = main_branch
        self.decisions: list[Decision] = []

    def units_of(self, number: int) -> dict[str, str]:
        return {u.name: u.kind for u in self.affected(self.github.changed_files(number))}

    def head(self, number: int, head: str, base: str, *, base_ref: str, fork: bool,
             force: bool = False) -> PullMemory:
        """A pull request is at `head`: check its units unless that head was already checked. The checks carry
        whether the head is a fork's and which branch it merges into; the stages decide what that allows."""
        mem = self.cursor.pulls.get(number)
        if mem is not None and mem.head == head and not force:
            mem.base = base or mem.base
            return mem
        units = self.units_of(number)
        verdicts = mem.verdicts if mem else {}
        mem = PullMemory(head=head, base=base, units=units, updated=mem.updated if mem else None, verdicts=verdicts)
        self.cursor.pulls[number] = mem
        if units:
            self.decisions.append(AddPartition(number))
            self.decisions += [RunPrChecks(number, head, base, name, kind, fork=fork, base_ref=base_ref)
                               for name, kind in units.items()]
        return mem

    def look(self, pull: PullRequest, now: datetime) -> None:
        """An open pull request from a list: its units when its head is new, its reviews when it moved. One that
        touches no unit needs no reviews: they would record nothing."""
        before = self.cursor.pulls.get(pull.number)
        moved = before is None or before.updated != pull.updated_at or before.recheck
        mem = self.head(pull.number, pull.head_sha, pull.base_sha, base_ref=pull.base_ref, fork=pull.fork)
        if moved and mem.units:
            self.verdicts(pull.number, mem, self.github.reviews(pull.number))
        mem.updated = pull.updated_at
        mem.recheck = bool(mem.units) and _recent(pull.updated_at, now)

    def verdicts(self, number: int, mem: PullMemory, reviews: Iterable[Review]) -> None:
        """Record each reviewer's approving verdict once; it approves only if it is for the head commit."""
        reviews = list(reviews)
        approval = approval_for(reviews, mem.head)
        approvers = approval.approvers if approval else ()
        latest: dict[str, Review] = {}
        for review in sorted(reviews, key=lambda r: (r.submitted_at or "", r.id or 0)):
            if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED") and review.reviewer:
                latest[review.reviewer] = review
        for reviewer, review in sorted(latest.items()):
            verdict = [review.state, review.commit_id or ""]
            if mem.verdicts.get(reviewer) == verdict:
                continue
            mem.verdicts[reviewer] = verdict
            if review.state != "APPROVED":
                continue
            approved = reviewer in approvers and review.commit_id == mem.head
            self.decisions += [RecordApproval(number, unit, reviewer, review.commit_id or "", mem.head, approved,
                                              approvers) for unit in mem.units]
        if approval and mem.approved != mem.head:
            mem.approved = mem.head

    def closed(self, number: int, merged: bool, merge_sha: str | None, head: str | None, base_ref: str) -> None:
        mem = self.cursor.pulls.pop(number, None)
        head = head or (mem.head if mem else "")
        if merged and base_ref != self.main_branch:  # only what reaches the deployed branch is deployed
            self.decisions.append(MergedElsewhere(number, head, base_ref, self.main_branch))
        elif merged:
            units = mem.units if mem is not None and mem.head == head else self.units_of(number)
            self.decisions += [RunMerge(number, head, merge_sha, name, kind) for name, kind in units.items()]
        elif mem is not None and mem.units:
            self.decisions.append(CleanUp(number, head))

    def result(self) -> tuple[list[Decision], TriggerCursor]:
        return self.decisions, self.cursor


def decide_poll(cursor: TriggerCursor, pulls: Iterable[PullRequest], github: GitHubReads,
                affected: AffectedUnits, *, complete: bool = True, now: datetime | None = None,
                main_branch: str = MAIN_BRANCH,
                merged_at: Mapping[int, str] | None = None) -> tuple[list[Decision], TriggerCursor]:
    """Compare polled pull requests with the cursor. `complete`: `pulls` are all the open ones, so a remembered
    one that is missing was closed (one read tells merged or not); otherwise `pulls` are those that moved, open or
    closed. GitHub is asked only about what moved: files of a new head, reviews when updated_at changed.
    Only a merge into `main_branch` runs anything after the merge. `merged_at` (number -> when merged): a pull
    request open at the first tick but merged before the backlog reached it gets its checks, then its merge."""
    now = now or datetime.now(timezone.utc)
    d = _Decider(cursor, github, affected, main_branch)
    seen: set[int] = set()
    for pull in pulls:
        seen.add(pull.number)
        if pull.state != "open":
            if pull.number not in d.cursor.pulls and _merged_before_looked_at(d.cursor, pull, merged_at, main_branch):
                d.head(pull.number, pull.head_sha, pull.base_sha, base_ref=pull.base_ref, fork=pull.fork)
            if pull.number in d.cursor.pulls:
                d.closed(pull.number, pull.merged, pull.merge_commit_sha, pull.head_sha, pull.base_ref)
            continue
        if not _left_to_backlog(d.cursor, pull):
            d.look(pull, now)
    for number, mem in sorted(d.cursor.pulls.items()):
        if number not in seen and mem.recheck:  # updated right at the last poll: a same-second review is invisible
            d.verdicts(number, mem, github.reviews(number))
            mem.recheck = _recent(mem.updated, now)
    for number in sorted(set(d.cursor.pulls) - seen) if complete else []:
        pull = github.pull(number)
        if pull.state == "open":  # still open (listed on a page that moved under us): look again next tick
            continue
        d.closed(number, pull.merged, pull.merge_commit_sha, pull.head_sha, pull.base_ref)
    return d.result()


def decide_events(cursor: TriggerCursor, deliveries: Iterable[tuple[int, Any]], github: GitHubReads,
                  affected: AffectedUnits, *, repository: str | None = None,
                  main_branch: str = MAIN_BRANCH) -> tuple[list[Decision], TriggerCursor]:
    """Apply parsed webhook events (row id, event model or None) in order; the cursor keeps the last row id.
    Only a merge into `main_branch` runs anything after the merge."""
    d = _Decider(cursor, github, affected, main_branch)
    for row_id, event in deliveries:
        d.cursor.delivery = max(d.cursor.delivery, int(row_id))
        if event is None or (repository and getattr(event, "repository", repository).lower() != repository.lower()):
            continue
        if isinstance(event, PullRequestEvent):
            if event.action in _RUN_ON:
                d.head(event.number, event.head_sha, event.base_sha, base_ref=event.base_ref, fork=event.fork)
            elif event.action == "closed":
                d.closed(event.number, event.merged, event.merge_commit_sha, event.head_sha, event.base_ref)
        elif isinstance(event, ReviewEvent) and event.action in ("submitted", "dismissed"):
            mem = d.cursor.pulls.get(event.number) or d.head(event.number, event.head_sha, "",
                                                             base_ref=event.base_ref, fork=event.fork)
            known = [Review(r, s, c or None, None) for r, (s, c) in mem.verdicts.items()]
            state = "DISMISSED" if event.action == "dismissed" else event.state.upper()
            known = [r for r in known if r.reviewer != event.reviewer]
            known.append(Review(event.reviewer, state, event.commit_id, None))
            d.verdicts(event.number, mem, known)
    return d.result()


def _merged_before_looked_at(cursor: TriggerCursor, pull: PullRequest, merged_at: Mapping[int, str] | None,
                             main_branch: str) -> bool:
    """Merged into the deployed branch after the first tick, before the backlog looked at it: a first tick that
    looked at every open pull request would have checked it, so it is checked now and its merge waits for that."""
    when = parse_time((merged_at or {}).get(pull.number))
    started = parse_time(cursor.backlog.started) if cursor.backlog else None
    return bool(pull.merged and pull.base_ref == main_branch and when and started and when > started)


def _left_to_backlog(cursor: TriggerCursor, pull: PullRequest) -> bool:
    """Open since before the first tick and not moved since: the backlog looks at it when it gets there (the poll
    lists it again only because it moved within the watermark's overlap)."""
    backlog = cursor.backlog
    if backlog is None or pull.number in cursor.pulls or pull.number <= backlog.after:
        return False
    updated, started = parse_time(pull.updated_at), parse_time(backlog.started)
    return bool(updated and started and updated <= started)


def _recent(updated_at: str | None, now: datetime) -> bool:
    when = parse_time(updated_at)
    return when is not None and now - when <= RECHECK_WINDOW
