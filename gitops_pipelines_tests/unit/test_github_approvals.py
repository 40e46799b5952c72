"""Approvals from reviews, bound to the reviewed commit."""

from __future__ import annotations

from gitops_pipelines.core.github.approvals import approval_for, decide, latest_verdicts
from gitops_pipelines.core.github.models import Approval, Review

OLD, HEAD = "1" * 40, "2" * 40


def review(who: str, state: str, commit: str | None, at: str) -> Review:
    return Review(reviewer=who, state=state, commit_id=commit, submitted_at=f"2026-11-02T10:{at}:00Z")


def test_approval_of_the_head_approves():
    assert approval_for([review("alice", "APPROVED", HEAD, "01")], HEAD) == Approval(HEAD, ("alice",))


def test_approval_of_an_older_commit_does_not_approve_the_head():
    decision = decide([review("alice", "APPROVED", OLD, "01")], HEAD)
    assert decision.approval is None and decision.stale == ("alice",)
    assert "older commit" in decision.explain()


def test_no_reviews_means_not_approved():
    assert approval_for([], HEAD) is None
    assert "no approving review" in decide([], HEAD).explain()


def test_changes_requested_by_anyone_blocks():
    reviews = [review("alice", "APPROVED", HEAD, "01"), review("bob", "CHANGES_REQUESTED", OLD, "02")]
    decision = decide(reviews, HEAD)
    assert decision.approval is None and decision.blocked_by == ("bob",)
    assert "changes requested by bob" in decision.explain()


def test_latest_verdict_per_reviewer_counts():
    # bob asked for changes, then approved the head: his latest verdict wins
    reviews = [review("bob", "CHANGES_REQUESTED", OLD, "01"), review("bob", "APPROVED", HEAD, "03"),
               review("alice", "APPROVED", HEAD, "02")]
    assert approval_for(reviews, HEAD) == Approval(HEAD, ("alice", "bob"))
    # alice approved, then asked for changes: blocked
    reviews = [review("alice", "APPROVED", HEAD, "01"), review("alice", "CHANGES_REQUESTED", HEAD, "02")]
    assert approval_for(reviews, HEAD) is None


def test_a_comment_after_an_approval_leaves_it_standing_and_dismissal_removes_it():
    approved = review("alice", "APPROVED", HEAD, "01")
    assert approval_for([approved, review("alice", "COMMENTED", HEAD, "02")], HEAD) == Approval(HEAD, ("alice",))
    assert approval_for([approved, review("alice", "DISMISSED", HEAD, "02")], HEAD) is None


def test_order_follows_submission_time_not_list_order():
    reviews = [review("alice", "APPROVED", HEAD, "05"), review("alice", "CHANGES_REQUESTED", HEAD, "01")]
    assert latest_verdicts(reviews)["alice"].state == "APPROVED"
    assert decide(reviews, HEAD).explain() == f"approved at {HEAD[:12]} by alice"
