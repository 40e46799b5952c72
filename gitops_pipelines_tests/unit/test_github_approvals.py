"""Approvals from reviews, bound to the reviewed commit."""

from __future__ import annotations

from gitops_pipelines.core.github.approvals import approval_for, decide, decide_required, latest_verdicts
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


# -- decide_required: a count against what the environment requires, the author's own review set aside -----------
def test_required_count_of_head_approvals():
    reviews = [review("alice", "APPROVED", HEAD, "01"), review("bob", "APPROVED", OLD, "02")]
    one = decide_required(reviews, HEAD, required=1, author="carol")
    assert one.approved and one.approvers == ("alice",) and one.stale == ("bob",) and one.missing == 0
    two = decide_required(reviews, HEAD, required=2, author="carol")
    assert not two.approved and two.missing == 1
    assert "1 of 2 required approving review(s)" in two.explain() and "bob approved an older commit" in two.explain()


def test_the_authors_own_review_never_counts_nor_blocks():
    reviews = [review("carol", "APPROVED", HEAD, "01")]
    decision = decide_required(reviews, HEAD, required=1, author="CAROL")
    assert not decision.approved and decision.approvers == () and decision.self_approved
    assert "own approval does not count" in decision.explain()
    assert decide_required([review("carol", "CHANGES_REQUESTED", HEAD, "01")], HEAD, required=0,
                           author="carol").approved
    # without an author everyone counts, as in decide
    assert decide_required(reviews, HEAD, required=1, author=None).approved


def test_changes_requested_block_however_many_approve():
    reviews = [review("alice", "APPROVED", HEAD, "01"), review("bob", "APPROVED", HEAD, "02"),
               review("dave", "CHANGES_REQUESTED", OLD, "03")]
    decision = decide_required(reviews, HEAD, required=2, author=None)
    assert not decision.approved and decision.blocked_by == ("dave",) and decision.missing == 0


def test_zero_required_is_approved_unless_blocked():
    assert decide_required([], HEAD, required=0, author=None).approved
    assert not decide_required([review("bob", "CHANGES_REQUESTED", HEAD, "01")], HEAD, required=0,
                               author=None).approved


def test_latest_verdict_counts_and_unknown_commit_is_stale():
    reviews = [review("alice", "APPROVED", HEAD, "01"), review("alice", "DISMISSED", HEAD, "02"),
               review("bob", "APPROVED", None, "01")]
    decision = decide_required(reviews, HEAD, required=1, author=None)
    assert decision.approvers == () and decision.stale == ("bob",)
