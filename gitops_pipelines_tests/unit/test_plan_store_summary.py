"""The counts shown on a pull request: add, change, destroy, replace."""

from __future__ import annotations

import pytest

from gitops_pipelines.core.plan_store import PlanSummary


def _plan(*actions: list[str]) -> dict:
    return {"resource_changes": [{"address": f"r.{i}", "change": {"actions": a}} for i, a in enumerate(actions)]}


def test_each_kind_of_action_is_counted_once():
    summary = PlanSummary.from_plan_json(_plan(
        ["create"], ["create"], ["update"], ["delete"], ["delete", "create"], ["create", "delete"], ["no-op"], ["read"],
    ))
    assert (summary.add, summary.change, summary.destroy, summary.replace) == (2, 1, 1, 2)
    assert summary.has_changes


@pytest.mark.parametrize("plan", [_plan(["no-op"], ["read"]), {}, {"resource_changes": None}])
def test_a_plan_with_only_no_ops_and_reads_has_no_changes(plan):
    assert PlanSummary.from_plan_json(plan) == PlanSummary(add=0, change=0, destroy=0, replace=0, has_changes=False)


def test_an_output_only_change_still_has_changes():
    # `apply` would write new outputs to state: skipping it because the counts are zero would be wrong
    plan = {"resource_changes": [], "output_changes": {"url": {"actions": ["update"]}}}
    summary = PlanSummary.from_plan_json(plan)
    assert (summary.add, summary.change, summary.destroy, summary.replace) == (0, 0, 0, 0)
    assert summary.has_changes
