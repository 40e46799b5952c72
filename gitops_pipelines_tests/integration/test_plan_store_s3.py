"""The plan store on S3 (a real moto server): same layout, same guarantees as on disk."""

from __future__ import annotations

import pytest

from gitops_pipelines.core.errors import ConfigError, PlanNotFound, PlanTampered
from gitops_pipelines.core.plan_store import S3PlanStore, open_plan_store
from gitops_pipelines_tests.unit.test_plan_store_support import make_plan, make_project

BUCKET = "gitops-plans"
PREFIX = "plans/network"
SECRET = "s3-store-secret-pw"
KEY = b"s" * 32
ARTIFACTS = ["plan.bin.enc", "plan.json", "plan.txt", "record.json"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("s3-project"))


@pytest.fixture(scope="module")
def real_plan(project):
    return make_plan(project, SECRET)


@pytest.fixture
def cloud(clouds, monkeypatch):
    server = clouds["test"]
    for name, value in server.aws_env().items():
        monkeypatch.setenv(name, value)
    server.create_bucket(BUCKET)
    return server


@pytest.fixture
def store(cloud, tmp_path):
    return open_plan_store(f"s3://{BUCKET}/{PREFIX}", tmp_path, key=KEY)


def _objects(cloud) -> dict[str, bytes]:
    s3 = cloud.boto3_client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def test_round_trip_through_s3(store, cloud, real_plan):
    assert isinstance(store, S3PlanStore) and store.location == f"s3://{BUCKET}/{PREFIX}"
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())

    stored = store.get(record.plan_id)
    assert stored.plan_bytes() == real_plan.plan_file
    assert stored.text() == real_plan.text
    assert stored.record == record
    objects = _objects(cloud)
    assert sorted(objects) == [f"{PREFIX}/{record.plan_id}/{name}" for name in sorted(ARTIFACTS)]
    assert not any(SECRET.encode() in body for body in objects.values())


def test_list_latest_and_idempotent_save_on_s3(store, project):
    first = make_plan(project, SECRET, name="one", out="one.tfplan")
    second = make_plan(project, SECRET, name="two", out="two.tfplan")
    a = store.save(first.plan_file, first.plan_json, first.text, first.binding(change="pr-1"))
    b = store.save(second.plan_file, second.plan_json, second.text, second.binding(change="pr-2"))

    assert store.save(first.plan_file, first.plan_json, first.text, first.binding(change="pr-1")) == a
    assert [r.plan_id for r in store.list()] == [b.plan_id, a.plan_id]
    assert store.latest("network", "test").plan_id == b.plan_id
    assert store.latest("network", "test", change="pr-1").plan_id == a.plan_id
    assert [pid for pid, problem in store.verify_all() if problem is None] == sorted([a.plan_id, b.plan_id])


@pytest.mark.parametrize("artifact", ARTIFACTS)
def test_an_object_rewritten_in_the_bucket_is_refused_naming_it(store, cloud, real_plan, artifact):
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    s3 = cloud.boto3_client("s3")
    key = f"{PREFIX}/{record.plan_id}/{artifact}"
    body = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x01
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(body))

    with pytest.raises(PlanTampered) as caught:
        store.get(record.plan_id)
    message = str(caught.value)
    assert artifact in message and record.plan_id in message and "network/test" in message
    assert "make a new plan" in message.lower()
    assert dict(store.verify_all())[record.plan_id] == message


def test_unknown_plan_on_s3_is_not_found(store):
    with pytest.raises(PlanNotFound, match=f"s3://{BUCKET}/{PREFIX}"):
        store.get("ef" * 32)


def test_local_and_s3_stores_share_one_key_and_format(store, cloud, real_plan, tmp_path):
    """A plan copied from disk to the bucket as is stays valid: the format does not depend on the backend."""
    local = open_plan_store("local-plans", tmp_path, key=KEY)
    record = local.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    s3 = cloud.boto3_client("s3")
    for path in (local.folder / record.plan_id).iterdir():
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{record.plan_id}/{path.name}", Body=path.read_bytes())

    assert store.get(record.plan_id).plan_bytes() == real_plan.plan_file


def test_a_missing_bucket_is_a_configuration_error(cloud, tmp_path, real_plan):
    store = open_plan_store("s3://no-such-bucket/plans", tmp_path, key=KEY)
    with pytest.raises(ConfigError, match="no-such-bucket"):
        store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    with pytest.raises(ConfigError, match="no-such-bucket"):
        store.list()
