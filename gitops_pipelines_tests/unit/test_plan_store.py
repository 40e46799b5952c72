"""The local plan store: what was saved comes back byte for byte, found by unit, environment and change."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from gitops_pipelines.core.errors import PlanBindingMismatch, PlanNotFound, PlanStale
from gitops_pipelines.core.plan_store import (
    SENSITIVE, AppliedRecord, LocalPlanStore, PlanStore, StoredPlan, open_plan_store,
)
from gitops_pipelines.core.plan_store.sealing import sha256_hex
from gitops_pipelines_tests.unit.test_plan_store_support import apply_plan_file, make_plan, make_project

SECRET = "pl4n-store-SECRET-42"
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def real_plan(project):
    return make_plan(project, SECRET)


@pytest.fixture
def store(tmp_path) -> PlanStore:
    return open_plan_store(".gitops/plans", tmp_path, key=KEY)


def test_open_plan_store_gives_a_folder_under_root(tmp_path):
    store = open_plan_store("var/plans", tmp_path, key=KEY)
    assert isinstance(store, LocalPlanStore)
    assert store.location == str(tmp_path / "var" / "plans")


def test_saved_plan_comes_back_byte_for_byte(store, real_plan):
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    stored = store.get(record.plan_id)

    assert isinstance(stored, StoredPlan)
    assert record.plan_id == sha256_hex(real_plan.plan_file)
    assert stored.plan_bytes() == real_plan.plan_file
    assert stored.text() == real_plan.text
    assert stored.record == record
    assert stored.plan_json()["variables"]["db_password"]["value"] == SENSITIVE


def test_record_carries_binding_summary_and_addresses(store, real_plan):
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())

    assert record.binding.unit == "network" and record.binding.environment == "test"
    assert record.binding.change == "pr-12"
    assert (record.summary.add, record.summary.change, record.summary.destroy, record.summary.replace) == (2, 0, 0, 0)
    assert record.summary.has_changes
    assert sorted(record.addresses) == ["module.child.terraform_data.api", "terraform_data.db"]
    assert datetime.fromisoformat(record.created_at).utcoffset().total_seconds() == 0
    assert record.plan_size == len(real_plan.plan_file)
    assert set(record.artifacts) == {"plan.bin.enc", "plan.json", "plan.txt"}


def test_layout_is_one_folder_per_plan_and_no_file_holds_the_secret(store, real_plan):
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    folder = store.folder / record.plan_id

    assert sorted(p.name for p in folder.iterdir()) == ["plan.bin.enc", "plan.json", "plan.txt", "record.json"]
    for path in folder.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path.name
    assert (folder / "plan.bin.enc").read_bytes() != real_plan.plan_file
    assert record.artifacts["plan.json"].sha256 == sha256_hex((folder / "plan.json").read_bytes())


def test_plan_read_back_from_the_store_applies_with_terraform(tmp_path):
    project = make_project(tmp_path / "apply-project")
    plan = make_plan(project, SECRET)
    (project / "plan.tfplan").unlink()  # only the stored copy is left
    store = open_plan_store("plans", tmp_path, key=KEY)
    record = store.save(plan.plan_file, plan.plan_json, plan.text, plan.binding())

    result = apply_plan_file(project, store.get(record.plan_id).plan_bytes())
    assert b"Apply complete! Resources: 2 added" in result.stdout


def test_saving_the_same_plan_twice_keeps_one_record(store, real_plan):
    first = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    again = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())

    assert again == first  # same created_at: nothing was rewritten
    assert [r.plan_id for r in store.list()] == [first.plan_id]


def test_the_same_plan_bytes_cannot_be_bound_to_another_environment(store, real_plan):
    store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    with pytest.raises(PlanBindingMismatch, match="network/test"):
        store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding(environment="prod"))


def test_list_is_newest_first_and_filters(store, project):
    saved = []
    for i, (unit, env, change) in enumerate([("network", "test", "pr-1"), ("network", "prod", "pr-1"),
                                             ("dns", "test", "pr-2"), ("network", "test", "pr-3")]):
        plan = make_plan(project, SECRET, name=f"app-{i}", out=f"list-{i}.tfplan")
        saved.append(store.save(plan.plan_file, plan.plan_json, plan.text, plan.binding(unit, env, change)))
    ids = [r.plan_id for r in saved]

    assert [r.plan_id for r in store.list()] == ids[::-1]
    assert [r.plan_id for r in store.list(unit="network")] == [ids[3], ids[1], ids[0]]
    assert [r.plan_id for r in store.list(unit="network", environment="test")] == [ids[3], ids[0]]
    assert [r.plan_id for r in store.list(change="pr-1")] == [ids[1], ids[0]]
    assert store.latest("network", "test").plan_id == ids[3]
    assert store.latest("network", "test", change="pr-1").plan_id == ids[0]
    assert store.latest("dns", "prod") is None


def test_an_empty_store_lists_nothing(store):
    assert store.list() == [] and store.verify_all() == []


def test_unknown_plan_is_not_found_with_what_to_do(store):
    plan_id = "ab" * 32
    with pytest.raises(PlanNotFound) as caught:
        store.get(plan_id)
    assert plan_id in str(caught.value) and "abababababab" in str(caught.value)
    assert "make a new plan" in str(caught.value).lower()
    assert caught.value.exit_code == 3


@pytest.mark.parametrize("plan_id", ["", "../../etc/passwd", "ABC", "zz" * 32])
def test_malformed_plan_ids_are_not_found(store, plan_id):
    with pytest.raises(PlanNotFound):
        store.get(plan_id)


def test_applied_record_is_kept_once_with_sensitive_outputs_removed(store, real_plan):
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    assert store.applied(record.plan_id) is None

    outputs = {"connection": {"sensitive": True, "type": "string", "value": f"postgres://app:{SECRET}@db"},
               "name": {"sensitive": False, "type": "string", "value": "app"}}
    applied = AppliedRecord(plan_id=record.plan_id, applied_at="2026-11-26T10:00:00Z", applied_by="alice",
                            state_serial=4, outputs=outputs)
    store.mark_applied(applied)
    store.mark_applied(applied)  # a rerun of the same deploy is fine

    back = store.applied(record.plan_id)
    assert back.applied_by == "alice" and back.state_serial == 4
    assert back.outputs["connection"]["value"] == SENSITIVE
    assert back.outputs["name"]["value"] == "app"
    assert SECRET not in (store.folder / record.plan_id / "applied.json").read_text()


def test_a_plan_is_applied_only_once(store, real_plan):
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    store.mark_applied(AppliedRecord(plan_id=record.plan_id, applied_at="2026-11-26T10:00:00Z", applied_by="alice"))
    with pytest.raises(PlanStale, match="already applied at 2026-11-26T10:00:00Z by alice"):
        store.mark_applied(AppliedRecord(plan_id=record.plan_id, applied_at="2026-11-27T10:00:00Z", applied_by="bob"))


def test_outputs_the_plan_marks_sensitive_are_removed_even_in_plain_form(store, real_plan):
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    store.mark_applied(AppliedRecord(plan_id=record.plan_id, applied_at="2026-11-26T10:00:00Z",
                                     outputs={"connection": f"postgres://app:{SECRET}@db", "name": "app"}))
    assert store.applied(record.plan_id).outputs == {"connection": SENSITIVE, "name": "app"}


def test_marking_an_unknown_plan_applied_is_refused(store):
    with pytest.raises(PlanNotFound):
        store.mark_applied(AppliedRecord(plan_id="cd" * 32, applied_at="2026-11-26T10:00:00Z"))


def test_local_writes_leave_no_temporary_files(store, real_plan):
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    leftovers = [name for _, _, files in os.walk(store.folder) for name in files if name.endswith(".tmp")]
    assert leftovers == []
    assert json.loads((store.folder / record.plan_id / "record.json").read_text())["plan_id"] == record.plan_id
