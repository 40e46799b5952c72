"""What a drift check tells people (core/stages/drift.py DriftResult, core/github/drift_issues.py): the drift, and
the policy's verdict on the plan that would bring the environment back to main's code."""

from __future__ import annotations

from gitops_pipelines.core.github.drift_issues import drift_issue_body
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.stages.drift import DriftResult

ADDRESS = "module.artifacts.aws_s3_bucket.this"
DENIED = f"s3-public-acl: {ADDRESS}: the bucket ACL is public-read"


def result(**fields) -> DriftResult:
    return DriftResult(unit="storage", environment="test", status="drift", drifted=[ADDRESS], pending=[],
                       changes={ADDRESS: ["tags.team: platform -> someone-else"]}, plan_id="a" * 64, **fields)


def test_a_drift_whose_undo_plan_the_policy_denies_says_so_in_the_summary_and_the_issue():
    denied = result(policy_passed=False, policy_violations=[DENIED])
    assert DENIED in denied.summary() and "fix the code before anyone applies it" in denied.summary()
    body = drift_issue_body(denied, "http://dagster/runs/1", Redactor([]))
    assert "security policy denies the plan" in body and f"`{DENIED}`" in body


def test_a_drift_the_policy_allows_says_nothing_of_the_policy():
    allowed = result()
    assert "policy" not in allowed.summary()
    assert "policy" not in drift_issue_body(allowed, None, Redactor([]))
