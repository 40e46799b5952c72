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
    tally = decide_required(reviews, head_sha, required=1, author=None)
    approval = Approval(commit_id=head_sha, approvers=tally.approvers) if tally.approved else None
    return ApprovalDecision(head_sha=head_sha, approval=approval, blocked_by=tally.blocked_by, stale=tally.stale)


@dataclass(frozen=True)
class RequiredApprovals:
    """Whether head_sha has the approving reviews it needs: who counts, who blocks, who approved an older commit,
    and whether the author's own approval was set aside."""

    head_sha: str
    required: int
    approvers: tuple[str, ...] = ()  # latest verdict APPROVED, of exactly head_sha, not the author
    blocked_by: tuple[str, ...] = ()  # latest verdict CHANGES_REQUESTED, at any commit
    stale: tuple[str, ...] = ()  # latest verdict APPROVED, of another commit
    author: str | None = None
    self_approved: bool = False  # the author approved their own change; it never counts

    @property
    def approved(self) -> bool:
        return not self.blocked_by and len(self.approvers) >= self.required

    @property
    def missing(self) -> int:
        """How many more approving reviews of the head are needed."""
        return max(0, self.required - len(self.approvers))

    def explain(self) -> str:
        head = self.head_sha[:12]
        counted = f" (by {', '.join(self.approvers)})" if self.approvers else ""
        parts = [f"{len(self.approvers)} of {self.required} required approving review(s) of {head}{counted}"]
        if self.stale:
            parts.append(f"{', '.join(self.stale)} approved an older commit, not {head} (stale)")
        if self.self_approved:
            parts.append(f"the author {self.author}'s own approval does not count")
        if self.blocked_by:
            parts.append(f"changes requested by {', '.join(self.blocked_by)}")
        return "; ".join(parts)


def decide_required(reviews: Iterable[Review], head_sha: str, *, required: int,
                    author: str | None) -> RequiredApprovals:
    """Count approvals of exactly head_sha against `required`: each reviewer's latest verdict counts, changes
    requested by anyone block, and the author's own review never counts (GitHub logins compare case-insensitively)."""
    if required < 0:
        raise ValueError(f"required approvals must be >= 0, got {required}")
    own = (author or "").casefold()
    latest = latest_verdicts(reviews)
    self_approved = bool(own) and any(r.casefold() == own and rv.state == "APPROVED" for r, rv in latest.items())
    others = {r: rv for r, rv in latest.items() if not own or r.casefold() != own}
    blocked = tuple(sorted(r for r, rv in others.items() if rv.state == "CHANGES_REQUESTED"))
    approving = tuple(sorted(r for r, rv in others.items() if rv.state == "APPROVED" and rv.commit_id == head_sha))
    stale = tuple(sorted(r for r, rv in others.items() if rv.state == "APPROVED" and rv.commit_id != head_sha))
    return RequiredApprovals(head_sha=head_sha, required=required, approvers=approving, blocked_by=blocked,
                             stale=stale, author=author or None, self_approved=self_approved)


def approval_for(reviews: Iterable[Review], head_sha: str) -> Approval | None:
    """The approval of head_sha: each reviewer's latest verdict counts; an approval of another commit does not
    approve; changes requested by anyone block."""
    return decide(reviews, head_sha).approval
