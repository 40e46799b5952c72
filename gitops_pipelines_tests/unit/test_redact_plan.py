"""Secrets in `terraform show -json` never reach a stored or shown plan."""

from __future__ import annotations

import copy
import json

import pytest

from gitops_pipelines.core.plan_store import SENSITIVE, redact_plan_json
from gitops_pipelines_tests.unit.test_plan_store_support import apply_plan_file, make_plan, make_project

FIRST = "s3cr3t-FIRST-pw-1234"
SECOND = "s3cr3t-SECOND-pw-5678"


@pytest.fixture(scope="module")
def create_plan(tmp_path_factory):
    return make_plan(make_project(tmp_path_factory.mktemp("create")), FIRST)


@pytest.fixture(scope="module")
def update_plan(tmp_path_factory):
    """A second plan on top of applied state: the secret changes, so before, after and prior state all hold one."""
    first = make_plan(make_project(tmp_path_factory.mktemp("update")), FIRST)
    apply_plan_file(first.workdir, first.plan_file)
    return make_plan(first.workdir, SECOND, out="second.tfplan")


def _resource(changes: list, address: str) -> dict:
    return next(rc for rc in changes if rc["address"] == address)


def test_real_plan_holds_the_secret_in_clear_before_redaction(create_plan):
    # the premise: without redaction the JSON a reviewer downloads would leak the password
    assert FIRST in json.dumps(create_plan.plan_json)


def test_secret_appears_nowhere_in_a_redacted_create_plan(create_plan):
    redacted = redact_plan_json(create_plan.plan_json)

    assert FIRST not in json.dumps(redacted)
    assert redacted["variables"]["db_password"]["value"] == SENSITIVE
    assert redacted["planned_values"]["outputs"]["connection"]["value"] == SENSITIVE
    assert redacted["output_changes"]["connection"]["after"] == SENSITIVE


def test_redaction_walks_nested_lists_and_maps_without_hiding_plain_values(create_plan):
    redacted = redact_plan_json(create_plan.plan_json)

    after = _resource(redacted["resource_changes"], "terraform_data.db")["change"]["after"]["input"]
    assert after["password"] == SENSITIVE
    assert after["replicas"][0] == {"secret": SENSITIVE, "zone": "a"}
    assert after["replicas"][1] == {"secret": "plain-b", "zone": "b"}  # not marked sensitive: kept
    assert after["name"] == "app"
    child = _resource(redacted["resource_changes"], "module.child.terraform_data.api")["change"]["after"]
    assert child["input"]["auth"] == {"token": SENSITIVE, "scheme": "bearer"}
    planned_child = redacted["planned_values"]["root_module"]["child_modules"][0]["resources"][0]
    assert planned_child["values"]["input"]["auth"]["token"] == SENSITIVE
    assert redacted["planned_values"]["outputs"]["name"]["value"] == "app"


def test_redaction_leaves_the_input_untouched(create_plan):
    before = copy.deepcopy(create_plan.plan_json)
    redact_plan_json(create_plan.plan_json)
    assert create_plan.plan_json == before


def test_old_and_new_secret_both_disappear_from_an_update_plan(update_plan):
    raw = json.dumps(update_plan.plan_json)
    assert FIRST in raw and SECOND in raw  # before/prior_state hold the old one, after the new one

    redacted = redact_plan_json(update_plan.plan_json)
    dump = json.dumps(redacted)
    assert FIRST not in dump and SECOND not in dump
    change = _resource(redacted["resource_changes"], "terraform_data.db")["change"]
    assert change["actions"] == ["update"]
    assert change["before"]["input"]["password"] == SENSITIVE
    assert change["after"]["input"]["password"] == SENSITIVE
    prior = redacted["prior_state"]["values"]["root_module"]["resources"][0]
    assert prior["values"]["input"]["password"] == SENSITIVE


def test_true_at_a_node_hides_the_whole_subtree():
    plan = {"resource_changes": [{"address": "x.y", "change": {
        "actions": ["create"],
        "after": {"block": {"a": "inner-secret-1", "b": ["inner-secret-2"]}, "list": ["k1", "k2"], "open": "ok"},
        "after_sensitive": {"block": True, "list": True},
    }}]}
    after = redact_plan_json(plan)["resource_changes"][0]["change"]["after"]
    assert after == {"block": SENSITIVE, "list": SENSITIVE, "open": "ok"}


def test_sensitive_variable_default_and_copies_of_a_secret_elsewhere_are_removed():
    plan = {
        "variables": {"api_key": {"value": "default-secret-key"}},
        "configuration": {"root_module": {
            "variables": {"api_key": {"sensitive": True, "default": "default-secret-key"}},
            "resources": [{"expressions": {"header": {"constant_value": "Bearer default-secret-key"}}}],
        }},
    }
    dump = json.dumps(redact_plan_json(plan))
    assert "default-secret-key" not in dump
    assert "Bearer (sensitive value)" in dump
