"""The audit rows: one per apply, joined with the change's release, filtered by environment, unit and date."""

from __future__ import annotations

import datetime as dt

import pytest

from gitops_pipelines.core.audit import COLUMNS, DeployEvent, audit_rows, parse_since, to_csv, to_markdown, to_text
from gitops_pipelines.core.errors import UsageError

NOV_30 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc).timestamp()
DEC_1 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc).timestamp()
TEST_PLAN, PROD_PLAN = "a" * 64, "b" * 64


def _events() -> list[DeployEvent]:
    base = {"head_sha": "h" * 40, "merge_sha": "m" * 40, "reviewed_by": "alice"}
    return [
        DeployEvent(NOV_30, "storage", "test", "pr-7", {**base, "plan_id": TEST_PLAN, "triggered_by": "merge of #7",
                                                        "result": "storage/test: plan aaaa applied"}),
        DeployEvent(DEC_1, "storage", "prod", "pr-7", {**base, "plan_id": PROD_PLAN, "triggered_by": "carol",
                                                       "approved_by": "carol", "result": "applied"}),
        DeployEvent(DEC_1 + 60, "storage", "prod", "pr-7", {**base, "plan_id": PROD_PLAN, "already_applied": True}),
        DeployEvent(DEC_1, "network", "test", "pr-8", {"plan_id": "c" * 64, "reviewed_by": "bob"}),
    ]


def test_one_row_per_apply_with_the_pull_request_approvers_release_and_plan():
    releases = {("storage", "pr-7"): {"plan_id": PROD_PLAN, "approved_by": "alice", "tag": "storage/v0.1.0"}}
    rows = audit_rows(_events(), releases)
    assert [(r.unit, r.environment) for r in rows] == [("storage", "prod"), ("network", "test"), ("storage", "test")]
    prod = rows[0]
    assert (prod.pull_request, prod.approved_on_github, prod.released_by, prod.release, prod.plan_id) == (
        "#7", "alice", "alice", "storage/v0.1.0", PROD_PLAN)
    assert prod.merge_sha == "m" * 40 and prod.applied_at == "2026-12-01T09:00:00Z"
    test = rows[2]
    assert test.release == "" and test.released_by == "", "the release is of the prod plan, not the test one"


def test_filters_and_formats():
    rows = audit_rows(_events(), {}, environment="prod")
    assert [r.plan_id for r in rows] == [PROD_PLAN], "a re-execution that applied nothing is not a change"
    assert [r.unit for r in audit_rows(_events(), {}, unit="network")] == ["network"]
    assert {r.environment for r in audit_rows(_events(), {}, since=parse_since("2026-12-01"))} == {"prod", "test"}
    assert to_csv(rows).splitlines()[0] == ",".join(COLUMNS)
    assert "storage/prod  pr-7 #7  plan bbbbbbbbbbbb" in to_text(rows) and to_text([]) == "no applies recorded"
    assert "| storage/prod | pr-7 | `bbbbbbbbbbbb` |" in to_markdown(rows)
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        parse_since("yesterday")
