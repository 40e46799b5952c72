"""Approvals from pull request reviews, bound to the reviewed commit (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .models import Approval, Review

# Only these change a reviewer's verdict; a later COMMENTED review leaves an approval standing, as on GitHub.
_VERDICTS = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


@dataclass(frozen=True)
class ApprovalDecision:
    """Why a head commit is or is not approved: who approved it, who blocks, whose approval is for an older commit."""

    head_sha: str
    approval: Approval | None
    blocked_by: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()  # approved an older commit only

    @property
    def approved(self) -> bool:
        return self.approval is not None

    def explain(self) -> str:
        if self.approval:
            return f"approved at {self.head_sha[:12]} by {self.approval.approved_by}"
        if self.blocked_by:
            return f"changes requested by {', '.join(self.blocked_by)}"
        if self.stale:
            return (f"approved by {', '.join(self.stale)} at an older commit, not at {self.head_sha[:12]}: "
                    "ask for a new review of the latest push")
        return f"no approving review of {self.head_sha[:12]} yet"


def latest_verdicts(reviews: Iterable[Review]) -> dict[str, Review]:
    """The latest verdict review per reviewer, in submission order (reviews without a date keep list order)."""
    ordered = sorted(enumerate(reviews), key=lambda pair: (pair[1].submitted_at or "", pair[0]))
    latest: dict[str, Review] = {}
    for _, review in ordered:
        if review.state in _VERDICTS and review.reviewer:
            latest[review.reviewer] = review
    return latest


def decide(reviews: Iterable[Review], head_sha: str) -> ApprovalDecision:
    """The full decision for head_sha; see approval_for."""
    latest = latest_verdicts(reviews)
    blocked = tuple(sorted(r for r, rv in latest.items() if rv.state == "CHANGES_REQUESTED"))
    approving = tuple(sorted(r for r, rv in latest.items() if rv.state == "APPROVED" and rv.commit_id == head_sha))
    stale = tuple(sorted(r for r, rv in latest.items() if rv.state == "APPROVED" and rv.commit_id != head_sha))
    approval = Approval(commit_id=head_sha, approvers=approving) if approving and not blocked else None
    return ApprovalDecision(head_sha=head_sha, approval=approval, blocked_by=blocked, stale=stale)


def approval_for(reviews: Iterable[Review], head_sha: str) -> Approval | None:
    """The approval of head_sha: each reviewer's latest verdict counts; an approval of another commit does not
    approve; changes requested by anyone block."""
    return decide(reviews, head_sha).approval
