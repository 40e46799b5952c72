"""Who may approve in the UI: a name typed into the launchpad is checked against the environment's approvers and
proven by that person's approving GitHub review of the change's head (pure)."""

from __future__ import annotations

import pytest

from gitops_pipelines.core.config import EnvironmentConfig
from gitops_pipelines.core.errors import PlanRefused
from gitops_pipelines.core.github.models import Review
from gitops_pipelines.core.promotion.checks import check_approver

OLD, HEAD = "a" * 40, "b" * 40


def prod(**settings) -> EnvironmentConfig:
    return EnvironmentConfig(name="prod", **settings)


def approve(who: str, commit: str = HEAD) -> Review:
    return Review(reviewer=who, state="APPROVED", commit_id=commit, submitted_at="2026-11-02T10:00:00Z")


def check(env: EnvironmentConfig, who: str, reviews=(), author: str | None = "carol") -> str:
    return check_approver("storage", env, "pr-7", who, reviews=list(reviews), head_sha=HEAD, author=author)


def test_a_listed_approver_with_a_review_of_the_head_is_accepted_as_github_spells_them():
    assert check(prod(approvers=["Alice", "bob"]), "alice", [approve("Alice")]) == "Alice"


def test_a_name_not_in_the_list_is_refused_naming_who_may():
    with pytest.raises(PlanRefused, match=r"'mallory' is not an approver of prod; approvers: Alice, bob"):
        check(prod(approvers=["Alice", "bob"]), "mallory", [approve("mallory")])


def test_a_listed_name_without_a_github_review_of_the_head_is_refused():
    with pytest.raises(PlanRefused, match="GitHub has no approving review by them of the head bbbbbbbbbbbb"):
        check(prod(approvers=["alice"]), "alice", [approve("bob")])
    with pytest.raises(PlanRefused, match="review is of an older commit"):
        check(prod(approvers=["alice"]), "alice", [approve("alice", OLD)])


def test_the_author_never_approves_their_own_change():
    with pytest.raises(PlanRefused, match="opened the pull request"):
        check(prod(approvers=["carol"]), "carol", [approve("carol")])


def test_review_proof_can_be_turned_off_and_without_github_only_the_list_is_checked():
    assert check(prod(approvers=["alice"], approver_must_review=False), "alice") == "alice"
    assert check_approver("storage", prod(approvers=["alice"]), "pr-7", "alice", reviews=None, head_sha=HEAD,
                          author=None) == "alice"
    assert check_approver("storage", prod(), "pr-7", "anyone", reviews=None, head_sha=HEAD, author=None) == "anyone"


def test_teams_are_not_resolved_yet_and_say_so():
    with pytest.raises(PlanRefused, match="teams are not resolved yet: acme/platform"):
        check(prod(approvers=["acme/platform"]), "alice", [approve("alice")])
