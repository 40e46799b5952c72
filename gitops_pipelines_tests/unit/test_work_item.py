"""The work-item rule: a pull request must reference an existing issue."""

from __future__ import annotations

from gitops_pipelines.core.config import GitHubSettings
from gitops_pipelines.core.github.work_item import DEFAULT_PATTERNS, referenced_issues, work_item_outcome

PATTERNS = GitHubSettings(repository="acme/infra").work_item_patterns


def test_referenced_issues_with_the_default_patterns():
    body = "Adds a bucket.\n\nFixes #12, closes #3\nRefs #12\nResolves   #40. Not #99 alone."
    assert referenced_issues(body, PATTERNS) == [12, 3, 40]
    assert referenced_issues(body, DEFAULT_PATTERNS) == [12, 3, 40]
    assert referenced_issues("", PATTERNS) == [] and referenced_issues(None, PATTERNS) == []
    assert referenced_issues("prefixes #5", PATTERNS) == []  # a word that merely ends in "fixes"


def test_configured_pattern_without_a_group():
    assert referenced_issues("see JIRA-7 and ops#8", [r"ops#\d+"]) == [8]
    assert referenced_issues("Work item: AB#1234", [r"AB#(\d+)"]) == [1234]


def test_outcome_fails_without_a_reference_and_says_how_to_fix():
    outcome = work_item_outcome("Just a change", PATTERNS, lambda n: True)
    assert outcome.conclusion == "failure" and outcome.title == "No work item referenced"
    assert "Add `Fixes #N`" in outcome.summary


def test_outcome_passes_with_an_existing_issue_and_fails_with_a_missing_one():
    exists = {4}.__contains__
    assert work_item_outcome("Fixes #4", PATTERNS, exists).conclusion == "success"
    assert work_item_outcome("Fixes #404 and closes #4", PATTERNS, exists).title == "Work item #4"
    missing = work_item_outcome("Fixes #404", PATTERNS, exists)
    assert missing.conclusion == "failure" and "#404" in missing.title and "Fixes #N" in missing.summary
