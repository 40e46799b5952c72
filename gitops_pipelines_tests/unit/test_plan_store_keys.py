"""Where the plan key comes from: GITOPS_PLAN_KEY's value (read by the caller) in production, a private
development key file otherwise."""

from __future__ import annotations

import base64
import stat
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gitops_pipelines.core.errors import ConfigError, PlanTampered
from gitops_pipelines.core.plan_store import S3PlanStore, load_plan_key, open_plan_store
from gitops_pipelines.core.plan_store.keys import (SALT_FILE, Passphrase, derive, key_from_setting, new_salt,
                                                   read_salt, stretch)
from gitops_pipelines_tests.unit.test_plan_store_support import make_plan, make_project


@pytest.fixture(scope="module")
def real_plan(tmp_path_factory):
    return make_plan(make_project(tmp_path_factory.mktemp("keys")), "keys-secret-pw")


@pytest.fixture(autouse=True)
def no_configured_key(monkeypatch):
    monkeypatch.delenv("GITOPS_PLAN_KEY", raising=False)


def test_without_a_configured_key_a_private_development_key_is_created_with_a_warning(tmp_path):
    warnings: list[str] = []
    key = load_plan_key(tmp_path, warnings.append)

    path = tmp_path / ".gitops" / "plan.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32
    assert warnings and "development key" in warnings[0] and "set GITOPS_PLAN_KEY in production" in warnings[0]


def test_the_development_key_is_reused_so_saved_plans_stay_readable(tmp_path, real_plan):
    warnings: list[str] = []
    first = open_plan_store("plans", tmp_path, warn=warnings.append)
    record = first.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())

    second = open_plan_store("plans", tmp_path, warn=warnings.append)
    assert second.get(record.plan_id).plan_bytes() == real_plan.plan_file
    assert len(warnings) == 2  # told every time the development key is used


def test_a_base64_key_setting_is_used_as_is(tmp_path):
    raw = bytes(range(100, 132))
    warnings: list[str] = []

    assert load_plan_key(tmp_path, warnings.append, base64.b64encode(raw).decode()) == raw
    assert warnings == []
    assert not (tmp_path / ".gitops").exists()


def test_the_process_environment_is_never_read_behind_the_callers_back(tmp_path, monkeypatch):
    monkeypatch.setenv("GITOPS_PLAN_KEY", base64.b64encode(bytes(32)).decode())
    warnings: list[str] = []
    assert load_plan_key(tmp_path, warnings.append) != bytes(32)
    assert "development key" in warnings[0]


def test_a_passphrase_setting_gives_a_stable_key(tmp_path, monkeypatch, real_plan):
    phrase = "correct horse battery staple"
    key = load_plan_key(tmp_path, print, phrase)
    assert isinstance(key, Passphrase) and key == load_plan_key(tmp_path, print, phrase)
    assert phrase not in repr(key)

    warnings: list[str] = []
    store = open_plan_store("plans", tmp_path, key=key, warn=warnings.append)
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    assert (tmp_path / "plans" / SALT_FILE).is_file() and "plan-key.salt" in warnings[0]
    assert open_plan_store("plans", tmp_path, key=key).get(record.plan_id).plan_bytes() == real_plan.plan_file

    other = load_plan_key(tmp_path, print, "another passphrase")
    with pytest.raises(PlanTampered):
        open_plan_store("plans", tmp_path, key=other).get(record.plan_id)


# -- passphrases: scrypt with the salt the store keeps ---------------------------------------------------------------
def test_a_passphrase_is_stretched_with_scrypt_stable_for_a_salt_and_different_for_another():
    phrase = Passphrase("correct horse battery staple")
    salt, other_salt = new_salt(), new_salt()
    started = time.perf_counter()
    key = phrase.key(salt)
    assert time.perf_counter() - started < 0.5  # what every store opened with a passphrase pays, once
    assert len(key) == 32 and key == Passphrase("correct horse battery staple").key(salt)
    assert key != phrase.key(other_salt) and key != Passphrase("correct horse battery stapler").key(salt)
    raw, params = read_salt(salt)
    assert params == {"n": 2 ** 15, "r": 8, "p": 1} and len(raw) == 16
    assert key == stretch("correct horse battery staple", raw, **params)
    # no longer the unsalted HKDF of the passphrase that plans were sealed with before
    assert key != derive(b"correct horse battery staple", "passphrase")


def test_plans_sealed_with_the_old_unsalted_passphrase_key_are_refused_not_misread(tmp_path, real_plan):
    phrase = "correct horse battery staple"
    old = open_plan_store("plans", tmp_path, key=derive(phrase.encode(), "passphrase"))
    record = old.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    with pytest.raises(PlanTampered, match="GITOPS_PLAN_KEY"):
        open_plan_store("plans", tmp_path, key=key_from_setting(phrase)).get(record.plan_id)


def test_the_salt_is_made_once_per_store_even_when_stores_race(tmp_path):
    phrase = "one passphrase for two stores"
    stores = [open_plan_store("plans", tmp_path, key=key_from_setting(phrase), warn=lambda m: None)
              for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda s: s._sealer._mac_key, stores))
    assert len(keys) == 1  # every racer reads the one salt that won
    assert [p.name for p in (tmp_path / "plans").iterdir()] == [SALT_FILE]
    elsewhere = open_plan_store("elsewhere", tmp_path, key=key_from_setting(phrase), warn=lambda m: None)
    assert elsewhere._sealer._mac_key not in keys  # another store, another salt, another key


def test_a_base64_key_needs_no_salt_and_works_as_before(tmp_path, real_plan):
    raw = bytes(range(32))
    key = key_from_setting(base64.b64encode(raw).decode())
    assert key == raw
    store = open_plan_store("plans", tmp_path, key=key)
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    assert store.get(record.plan_id).plan_bytes() == real_plan.plan_file
    assert not (tmp_path / "plans" / SALT_FILE).exists()


def test_a_damaged_salt_is_refused_never_replaced(tmp_path, real_plan):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / SALT_FILE).write_text('{"kdf": "scrypt", "n": 2, "r": 8, "p": 1, "salt": "AAAA"}')
    store = open_plan_store("plans", tmp_path, key=key_from_setting("a passphrase"))
    with pytest.raises(ConfigError, match="not a plan key salt") as caught:
        store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    assert caught.value.file.endswith(SALT_FILE)
    assert "AAAA" in (tmp_path / "plans" / SALT_FILE).read_text()


def test_the_salt_of_a_store_on_s3_sits_beside_the_plans_and_is_written_once(monkeypatch, real_plan):
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="plans-bucket")
        key = key_from_setting("an s3 passphrase")
        store = S3PlanStore("plans-bucket", "plans/net", key, lambda m: None, client=client)
        record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
        assert client.get_object(Bucket="plans-bucket", Key=f"plans/net/{SALT_FILE}")["Body"].read()
        assert store._create_beside(SALT_FILE, new_salt()) is False  # If-None-Match: the first salt stays
        again = S3PlanStore("plans-bucket", "plans/net", key_from_setting("an s3 passphrase"), client=client)
        assert again.get(record.plan_id).plan_bytes() == real_plan.plan_file


def test_a_broken_development_key_file_says_what_to_do(tmp_path):
    path = tmp_path / ".gitops" / "plan.key"
    path.parent.mkdir()
    path.write_text("not a key")
    with pytest.raises(ConfigError, match="GITOPS_PLAN_KEY") as caught:
        load_plan_key(tmp_path, print)
    assert caught.value.file == str(path) and caught.value.exit_code == 2
