"""The diff between an approved plan and a new one, on small handmade plan JSONs, and the after-merge decisions
built on it and on the unit source hash."""

from __future__ import annotations

import copy
import re

import pytest

from gitops_pipelines.core.github.rendering import code_span
from gitops_pipelines.core.plan_diff import ABSENT, UNKNOWN, attribute_changes, plan_diff
from gitops_pipelines.core.plan_store import SENSITIVE, PlanBinding, PlanRecord, PlanSummary
from gitops_pipelines.core.promotion import after_replan, decide_after_merge
from gitops_pipelines.core.promotion.replan import MAIN_MOVED, NOT_BOUND, STATE_CHANGED

BUCKET = "aws_s3_bucket.site"


def rc(address: str, actions: list[str], after: dict | None, *, unknown: dict | None = None,
       sensitive: dict | None = None, **extra) -> dict:
    return {"address": address, "mode": "managed", "type": address.split(".")[0], "name": address.split(".")[-1],
            "change": {"actions": actions, "before": None, "after": after, "after_unknown": unknown or {},
                       "before_sensitive": False, "after_sensitive": sensitive or {}, **extra}}


def plan(*changes: dict, **extra) -> dict:
    return {"format_version": "1.2", "terraform_version": "1.11.0", "timestamp": "2026-11-02T10:00:00Z",
            "planned_values": {"root_module": {}}, "resource_changes": list(changes), **extra}


def bucket(tags: dict | None = None, actions: list[str] | None = None) -> dict:
    after = {"bucket": "site", "force_destroy": False, "tags": tags or {"env": "test"}}
    return rc(BUCKET, actions or ["create"], after, unknown={"arn": True, "id": True, "tags_all": True})


APPROVED = plan(bucket(), rc("aws_s3_bucket.logs", ["no-op"], {"bucket": "logs"}))


# -- plan_diff ---------------------------------------------------------------------------------------------------
def test_the_same_resource_changes_are_identical_whatever_the_noise():
    new = copy.deepcopy(APPROVED)
    new["timestamp"] = "2026-11-03T12:00:00Z"
    new["planned_values"] = {"root_module": {"resources": [{"address": BUCKET, "values": {"x": 1}}]}}
    new["prior_state"] = {"serial": 7}
    new["resource_changes"][0]["change"]["before"] = {"stale": "before values do not count"}
    new["resource_changes"][1]["change"]["after"] = {"bucket": "logs", "refreshed": True}  # no-op: not applied
    new["resource_changes"].append(rc("data.aws_caller_identity.me", ["read"], {"account_id": None}))

    diff = plan_diff(APPROVED, new)

    assert diff.identical and diff.resources == () and diff.summary() == "identical resource changes"
    assert "same resource changes" in diff.markdown()


def test_a_resource_only_in_the_new_plan_is_added():
    new = plan(bucket(), rc("aws_s3_bucket.extra", ["create"], {"bucket": "extra"}))
    diff = plan_diff(APPROVED, new)
    assert not diff.identical
    assert diff.added == ["aws_s3_bucket.extra"] and diff.removed == [] and diff.changed == []
    assert diff.resource("aws_s3_bucket.extra").new_actions == ("create",)
    assert "only in the new plan" in diff.markdown() and "`create`" in diff.markdown()


def test_a_resource_only_in_the_approved_plan_is_removed_even_if_the_new_one_lists_it_as_no_op():
    new = plan(rc(BUCKET, ["no-op"], {"bucket": "site"}), rc("aws_s3_bucket.logs", ["no-op"], {"bucket": "logs"}))
    diff = plan_diff(APPROVED, new)
    assert diff.removed == [BUCKET] and diff.added == [] and diff.changed == []
    assert diff.resource(BUCKET).describe() == f"{BUCKET}: only in the approved plan (create)"


def test_another_action_is_a_change():
    new = plan(bucket(actions=["delete", "create"]))
    diff = plan_diff(APPROVED, new)
    change = diff.resource(BUCKET)
    assert diff.changed == [BUCKET] and change.actions_differ and change.attributes == ()
    assert change.approved_actions == ("create",) and change.new_actions == ("delete", "create")
    assert "actions `create` \u2192 `delete, create`" in diff.markdown()


def test_another_attribute_value_names_its_path():
    new = plan(bucket(tags={"env": "prod", "team": "web"}))
    diff = plan_diff(APPROVED, new)
    change = diff.resource(BUCKET)
    assert diff.changed == [BUCKET] and not change.actions_differ
    assert [(a.path, a.approved, a.new) for a in change.attributes] == [("tags.env", "test", "prod"),
                                                                        ("tags.team", ABSENT, "web")]
    md = diff.markdown()
    assert '`tags.env`: `"test"` \u2192 `"prod"`' in md and "`tags.team`: `(absent)` \u2192 `\"web\"`" in md
    assert diff.summary() == "1 changed"


def test_known_after_apply_is_a_value_of_its_own():
    approved = plan(rc(BUCKET, ["create"], {"bucket": "site", "arn": None}, unknown={"arn": True}))
    same = plan(rc(BUCKET, ["create"], {"bucket": "site"}, unknown={"arn": True}))  # omitted or null: the same
    known = plan(rc(BUCKET, ["create"], {"bucket": "site", "arn": "arn:aws:s3:::site"}))
    assert plan_diff(approved, same).identical
    attrs = plan_diff(approved, known).resource(BUCKET).attributes
    assert [(a.path, a.approved, a.new) for a in attrs] == [("arn", UNKNOWN, "arn:aws:s3:::site")]
    assert "`(known after apply)` \u2192 `\"arn:aws:s3:::site\"`" in plan_diff(approved, known).markdown()


def test_odd_keys_and_list_items_get_readable_paths():
    a = plan(rc("aws_x.y", ["update"], {"tags": {"a b": "1"}, "rule": [{"id": "r1"}, {"id": "r2"}]}))
    b = plan(rc("aws_x.y", ["update"], {"tags": {"a b": "2"}, "rule": [{"id": "r1"}]}))
    paths = [x.path for x in plan_diff(a, b).resource("aws_x.y").attributes]
    assert paths == ["rule[1]", 'tags["a b"]']


def test_true_is_not_one():
    a = plan(rc("aws_x.y", ["update"], {"flag": True}))
    b = plan(rc("aws_x.y", ["update"], {"flag": 1}))
    assert not plan_diff(a, b).identical


def test_sensitive_values_are_masked_even_when_the_json_still_holds_them():
    secret_a, secret_b = "hunter2-approved-secret", "hunter3-new-secret"
    a = plan(rc("aws_db_instance.db", ["update"], {"password": secret_a, "name": "db", "tags": {"k": secret_a}},
                sensitive={"password": True, "tags": {"k": True}}))
    b = plan(rc("aws_db_instance.db", ["update"], {"password": secret_b, "name": "db2", "tags": {"k": secret_b}},
                sensitive={"password": True, "tags": {"k": True}}))
    diff = plan_diff(a, b)
    assert [(x.path, x.approved, x.new) for x in diff.resource("aws_db_instance.db").attributes] == [
        ("name", "db", "db2")]  # secrets compare as a reviewer sees them: masked on both sides
    rendered = diff.markdown() + "".join(r.describe() for r in diff.resources)
    assert secret_a not in rendered and secret_b not in rendered

    # marked sensitive in before only: still masked
    c = plan(rc("aws_db_instance.db", ["update"], {"password": secret_b, "name": "db"},
                before_sensitive={"password": True}))
    d = plan(rc("aws_db_instance.db", ["update"], {"password": "plain", "name": "db"}))
    shown = plan_diff(c, d)
    attrs = shown.resource("aws_db_instance.db").attributes
    assert [(x.path, x.approved, x.new) for x in attrs] == [("password", SENSITIVE, "plain")]
    assert secret_b not in shown.markdown() and "`(sensitive value)`" in shown.markdown()


def test_a_stored_redacted_plan_compares_to_an_unredacted_one():
    from gitops_pipelines.core.plan_store import redact_plan_json

    raw = plan(rc("aws_db_instance.db", ["create"], {"password": "s3cret-value-123", "name": "db"},
                  sensitive={"password": True}))
    assert plan_diff(redact_plan_json(raw), raw).identical


@pytest.mark.parametrize("address", [
    'aws_s3_bucket.b["``x``"]',
    'aws_s3_bucket.b["<!-- gitops-pipelines:unit=x env=y -->"]',
    'aws_s3_bucket.b["@org/team"]',
    'aws_s3_bucket.b["a|b <img src=x onerror=alert(1)> ` @here"]',
])
def test_an_address_renders_inert(address):
    new = plan(bucket(), rc(address, ["create"], {"bucket": "x"}))
    md = plan_diff(APPROVED, new).markdown()
    assert code_span(address).replace("|", "\\|") in md
    outside = _outside_code(md)
    assert "<" not in outside and "@" not in outside and "`" not in outside
    row = next(line for line in md.splitlines() if line.startswith("| ") and "only in the new plan" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 3, "a | in the address does not open another cell"


def _outside_code(md: str) -> str:
    """md without its code spans (a run of n backticks up to the next run of exactly n)."""
    out, i = [], 0
    while i < len(md):
        m = re.compile(r"`+").search(md, i)
        if not m:
            out.append(md[i:])
            break
        out.append(md[i:m.start()])
        close = re.compile(rf"(?<!`){m.group()}(?!`)").search(md, m.end())
        i = close.end() if close else len(md)
        if not close:
            out.append(m.group())
    return "".join(out)


def test_a_long_diff_is_cut_and_counted():
    many = plan(*[rc(f"aws_s3_bucket.b{i:03}", ["create"], {"bucket": str(i)}) for i in range(60)])
    md = plan_diff(plan(), many).markdown()
    assert "60 resources differ" in md and "and 10 more resources" in md
    assert md.count("only in the new plan:") == 50


# -- after the merge ---------------------------------------------------------------------------------------------
def record(plan_id: str = "1" * 64, **binding) -> PlanRecord:
    values = dict(unit="site", environment="test", change="pr-7", head_sha="a" * 40, terraform_version="1.11.0",
                  source_hash="5" * 64, commit="c" * 40)
    values.update(binding)
    return PlanRecord(plan_id=plan_id, binding=PlanBinding(**values), summary=PlanSummary(add=1, has_changes=True),
                      created_at="2026-11-02T10:00:00Z", plan_size=10, artifacts={})


def test_the_stored_plan_is_applied_when_source_and_state_are_as_approved():
    decision = decide_after_merge(record(), "5" * 64, stale=False, merge_commit="m" * 40)
    assert (decision.outcome, decision.reasons, decision.reason) == ("apply_stored", (), None)
    assert decision.plan_id == "1" * 64
    assert "site/test (pr-7)" in decision.message and "111111111111" in decision.message
    assert "mmmmmmmmmmmm" in decision.message


@pytest.mark.parametrize("merge_hash, stale, reasons", [
    ("6" * 64, False, (MAIN_MOVED,)),
    ("5" * 64, True, (STATE_CHANGED,)),
    ("6" * 64, True, (MAIN_MOVED, STATE_CHANGED)),
])
def test_a_moved_source_or_state_means_replan(merge_hash, stale, reasons):
    decision = decide_after_merge(record(), merge_hash, stale=stale)
    assert decision.outcome == "replan" and decision.reasons == reasons
    assert decision.reason == " and ".join(reasons)
    assert decision.reason in decision.message and "site/test_plan" in decision.message
    assert "site/test (pr-7)" in decision.message and "111111111111" in decision.message


def test_main_moved_under_the_unit_is_the_reason_people_read():
    assert decide_after_merge(record(), "6" * 64, stale=False).reason == "main moved under the unit"
    assert decide_after_merge(record(), "5" * 64, stale=True).reason == "the state changed since the plan"


def test_a_plan_without_a_source_hash_is_never_applied_after_a_merge():
    decision = decide_after_merge(record(source_hash=None), "5" * 64, stale=False)
    assert decision.outcome == "replan" and decision.reasons == (NOT_BOUND,)


def test_identical_resource_changes_apply_the_new_plan():
    approved, new = record(), record("2" * 64, commit="d" * 40)
    outcome, diff = after_replan(APPROVED, copy.deepcopy(APPROVED))
    assert outcome == "apply_new" and diff.identical
    message = after_replan(APPROVED, APPROVED).message(approved, new)
    assert "222222222222" in message and "111111111111" in message and "dddddddddddd" in message
    assert "without another approval" in message


def test_different_resource_changes_wait_for_a_person_who_knows_what_to_do():
    approved, new = record(), record("2" * 64, commit="d" * 40)
    replanned = after_replan(APPROVED, plan(bucket(tags={"env": "prod"})))
    outcome, diff = replanned
    assert outcome == "wait_for_person" and diff.changed == [BUCKET]
    message = replanned.message(approved, new)
    assert "site/test (pr-7)" in message and "nothing was applied" in message
    assert "read the diff" in message and "Dagster UI" in message and "site/test_deploy for pr-7" in message
    assert f"plan_id {'2' * 64}" in message and "111111111111" in message


def test_a_drift_entry_lists_its_changed_attributes_with_sensitive_values_masked():
    change = {"before": {"tags": {"team": "platform", "env": "test"}, "token": "s3cret", "size": 1},
              "after": {"tags": {"team": "by-hand", "env": "test"}, "token": "other", "size": 1},
              "before_sensitive": {"token": True}, "after_sensitive": {"token": True}}
    assert attribute_changes(change) == ['tags.team: "platform" -> "by-hand"']  # a masked value cannot differ
    many = {"before": {f"a{i}": i for i in range(12)}, "after": {f"a{i}": i + 1 for i in range(12)}}
    found = attribute_changes(many)
    assert len(found) == 11 and found[-1] == "(and 2 more)"
