"""Any changed byte in a stored plan is caught before apply, and the error says which file and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_pipelines.core.errors import PlanNotFound, PlanTampered
from gitops_pipelines.core.plan_store import AppliedRecord, open_plan_store
from gitops_pipelines.core.plan_store.store import InvalidPlanId
from gitops_pipelines_tests.unit.test_plan_store_support import make_plan, make_project

KEY = b"k" * 32
ARTIFACTS = ["plan.bin.enc", "plan.json", "plan.txt", "record.json"]


@pytest.fixture(scope="module")
def real_plan(tmp_path_factory):
    return make_plan(make_project(tmp_path_factory.mktemp("tamper")), "tamper-secret-pw")


@pytest.fixture
def saved(tmp_path, real_plan):
    store = open_plan_store("plans", tmp_path, key=KEY)
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text,
                        real_plan.binding(unit="payments", environment="prod"))
    return store, record


def _flip_byte(path, index=None):
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if index is None else index
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def _assert_actionable(error: PlanTampered, plan_id: str, artifact: str):
    message = str(error)
    assert artifact in message
    assert plan_id in message and plan_id[:12] in message
    assert "payments/prod" in message
    assert "make a new plan" in message.lower()
    assert error.exit_code == 3


@pytest.mark.parametrize("artifact", ARTIFACTS)
def test_one_flipped_byte_in_any_artifact_is_refused_naming_it(saved, artifact):
    store, record = saved
    _flip_byte(store.folder / record.plan_id / artifact)

    with pytest.raises(PlanTampered) as on_get:
        store.get(record.plan_id)
    with pytest.raises(PlanTampered) as on_verify:
        store.verify(record.plan_id)
    _assert_actionable(on_get.value, record.plan_id, artifact)
    assert str(on_verify.value) == str(on_get.value)


def test_a_record_edited_to_another_environment_is_refused(saved):
    store, record = saved
    path = store.folder / record.plan_id / "record.json"
    data = json.loads(path.read_text())
    data["binding"]["environment"] = "test"  # valid JSON, a plausible value: only the signature catches it
    path.write_text(json.dumps(data))

    with pytest.raises(PlanTampered, match="record.json") as caught:
        store.get(record.plan_id)
    assert "signature" in str(caught.value)
    assert store.list(environment="test") == [] and store.list() == []


def test_a_ciphertext_swapped_with_another_plan_is_refused(saved, real_plan, tmp_path):
    store, record = saved
    other = make_plan(real_plan.workdir, "tamper-secret-pw", name="other", out="other.tfplan")
    other_record = store.save(other.plan_file, other.plan_json, other.text, other.binding())
    src = store.folder / other_record.plan_id / "plan.bin.enc"
    (store.folder / record.plan_id / "plan.bin.enc").write_bytes(src.read_bytes())

    with pytest.raises(PlanTampered, match="plan.bin.enc"):
        store.get(record.plan_id)


def test_a_deleted_artifact_is_refused_as_missing(saved):
    store, record = saved
    (store.folder / record.plan_id / "plan.txt").unlink()
    with pytest.raises(PlanTampered, match="plan.txt is missing"):
        store.get(record.plan_id)


def test_a_deleted_record_is_refused_not_reported_unknown(saved):
    store, record = saved
    (store.folder / record.plan_id / "record.json").unlink()
    with pytest.raises(PlanTampered, match="record.json is missing"):
        store.get(record.plan_id)


def test_a_store_opened_with_another_key_refuses_the_plan(saved, tmp_path):
    store, record = saved
    other = open_plan_store("plans", tmp_path, key=b"x" * 32)
    with pytest.raises(PlanTampered) as caught:
        other.get(record.plan_id)
    assert "GITOPS_PLAN_KEY" in str(caught.value)
    assert record.plan_id in str(caught.value)


def test_verify_all_reports_each_plan(saved, real_plan):
    store, record = saved
    other = make_plan(real_plan.workdir, "tamper-secret-pw", name="good", out="good.tfplan")
    good = store.save(other.plan_file, other.plan_json, other.text, other.binding())
    _flip_byte(store.folder / record.plan_id / "plan.json")

    results = dict(store.verify_all())
    assert results[good.plan_id] is None
    assert "plan.json" in results[record.plan_id]


def test_a_tampered_applied_record_is_refused(saved):
    store, record = saved
    store.mark_applied(AppliedRecord(plan_id=record.plan_id, applied_at="2026-11-26T10:00:00Z", applied_by="alice"))
    path = store.folder / record.plan_id / "applied.json"
    path.write_text(path.read_text().replace("alice", "mallory"))
    with pytest.raises(PlanTampered, match="applied.json"):
        store.applied(record.plan_id)


def test_saving_again_repairs_a_damaged_copy(saved, real_plan):
    store, record = saved
    _flip_byte(store.folder / record.plan_id / "plan.bin.enc")
    warnings = []
    store._warn = warnings.append
    store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text,
               real_plan.binding(unit="payments", environment="prod"))
    assert store.get(record.plan_id).plan_bytes() == real_plan.plan_file
    assert any("damaged" in w for w in warnings)


def test_a_record_that_is_no_longer_json_still_names_the_plan(saved):
    store, record = saved
    path = store.folder / record.plan_id / "record.json"
    path.write_bytes(path.read_bytes().replace(b"{", b"[", 1))
    with pytest.raises(PlanTampered, match="record.json is not valid JSON") as caught:
        store.get(record.plan_id)
    _assert_actionable(caught.value, record.plan_id, "record.json")


def test_even_a_whitespace_edit_to_the_record_is_refused(saved):
    store, record = saved
    path = store.folder / record.plan_id / "record.json"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 1))
    with pytest.raises(PlanTampered, match="record.json"):
        store.get(record.plan_id)


# -- plan ids are checked before anything is read ---------------------------------------------------------------------
BAD_IDS = ["../../etc/passwd", "../outside", "A" * 64, "a" * 63, "a" * 64 + "\n", "g" * 64, "a" * 32 + "/" + "a" * 31,
           ""]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_bad_plan_id_is_refused_before_any_file_is_read(saved, real_plan, tmp_path, monkeypatch, bad):
    store, record = saved
    decoy = tmp_path / "outside"  # where "../outside" would lead from the store's folder
    decoy.mkdir(exist_ok=True)
    (decoy / "record.json").write_text("{}")
    read: list[str] = []
    real_read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(str(self)) or real_read_bytes(self))
    applied = AppliedRecord(plan_id=bad, applied_at="2026-11-02T10:00:00Z", applied_by="alice", state_serial=1)
    for attempt in (lambda: store.get(bad), lambda: store.verify(bad), lambda: store.applied(bad),
                    lambda: store.mark_applied(applied)):
        with pytest.raises(InvalidPlanId, match="is not a plan id") as caught:
            attempt()
        assert repr(bad) in str(caught.value) and "64 lowercase hex characters" in str(caught.value)
        assert isinstance(caught.value, PlanNotFound) and caught.value.exit_code == 3
    assert read == []  # not the decoy, not even the store's own files


def test_a_long_bad_plan_id_is_quoted_cut(saved):
    store, _ = saved
    with pytest.raises(InvalidPlanId) as caught:
        store.get("x" * 500)
    assert "x" * 80 + "\u2026" in str(caught.value) and "x" * 81 not in str(caught.value)


def test_listing_skips_folders_that_are_not_plan_ids(saved):
    store, record = saved
    (store.folder / ("Z" * 64)).mkdir()
    assert [pid for pid, _ in store.verify_all()] == [record.plan_id]
