"""The provider lock file is sealed with the plan: it comes back byte for byte, any change to it is caught, and
plans stored before it travelled with them still load."""

from __future__ import annotations

import json

import pytest

from gitops_pipelines.core.errors import PlanTampered
from gitops_pipelines.core.plan_store import PlanBinding, open_plan_store
from gitops_pipelines.core.plan_store.sealing import sha256_hex
from gitops_pipelines_tests.unit.test_lock_file import PLANNED

KEY = b"l" * 32
PLAN_JSON = {"format_version": "1.2", "resource_changes": []}


def binding(lock_hash: str | None) -> PlanBinding:
    return PlanBinding(unit="storage", environment="test", change="pr-3", head_sha="a" * 40,
                       terraform_version="1.11.0", lock_hash=lock_hash)


@pytest.fixture
def store(tmp_path):
    return open_plan_store("plans", tmp_path, key=KEY)


@pytest.fixture
def saved(store):
    record = store.save(b"plan file bytes", PLAN_JSON, "No changes.", binding(sha256_hex(PLANNED)), lock_file=PLANNED)
    return store, record


def test_the_lock_file_comes_back_byte_for_byte(saved):
    store, record = saved
    assert store.get(record.plan_id).lock_file() == PLANNED
    assert (store.folder / record.plan_id / "terraform.lock.hcl").read_bytes() == PLANNED
    assert record.artifacts["terraform.lock.hcl"].sha256 == record.binding.lock_hash == sha256_hex(PLANNED)
    assert store.verify_all() == [(record.plan_id, None)]


@pytest.mark.parametrize("damage", ["edit", "delete"])
def test_a_changed_or_missing_lock_file_refuses_the_plan(saved, damage):
    store, record = saved
    path = store.folder / record.plan_id / "terraform.lock.hcl"
    if damage == "edit":
        path.write_bytes(PLANNED.replace(b"5.100.0", b"5.100.1"))
    else:
        path.unlink()
    with pytest.raises(PlanTampered) as caught:
        store.get(record.plan_id)
    message = str(caught.value)
    assert "terraform.lock.hcl" in message and record.plan_id in message and "storage/test" in message
    assert "make a new plan" in message.lower()


def test_a_lock_file_dropped_from_the_record_breaks_its_signature(saved):
    store, record = saved
    path = store.folder / record.plan_id / "record.json"
    data = json.loads(path.read_text())
    del data["artifacts"]["terraform.lock.hcl"]  # as if the plan had been stored without one
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    with pytest.raises(PlanTampered, match="signature"):
        store.get(record.plan_id)


def test_a_plan_stored_without_a_lock_file_still_loads(store):
    # what every plan saved before lock files were sealed looks like: a lock hash in the binding, no artifact
    record = store.save(b"older plan", PLAN_JSON, "No changes.", binding(sha256_hex(PLANNED)))
    assert "terraform.lock.hcl" not in record.artifacts
    assert not (store.folder / record.plan_id / "terraform.lock.hcl").exists()
    stored = store.get(record.plan_id)
    assert stored.lock_file() is None and stored.record.binding.lock_hash == sha256_hex(PLANNED)


def test_a_lock_file_not_matching_the_binding_is_not_saved(store):
    with pytest.raises(ValueError, match="lock_hash"):
        store.save(b"plan", PLAN_JSON, "", binding("0" * 64), lock_file=PLANNED)
    assert store.list() == []
