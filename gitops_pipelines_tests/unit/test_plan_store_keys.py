"""Where the plan key comes from: GITOPS_PLAN_KEY's value (read by the caller) in production, a private
development key file otherwise."""

from __future__ import annotations

import base64
import stat

import pytest

from gitops_pipelines.core.errors import ConfigError, PlanTampered
from gitops_pipelines.core.plan_store import load_plan_key, open_plan_store
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
    assert len(key) == 32 and key == load_plan_key(tmp_path, print, phrase)

    store = open_plan_store("plans", tmp_path, key=key)
    record = store.save(real_plan.plan_file, real_plan.plan_json, real_plan.text, real_plan.binding())
    assert open_plan_store("plans", tmp_path, key=key).get(record.plan_id).plan_bytes() == real_plan.plan_file

    other = load_plan_key(tmp_path, print, "another passphrase")
    with pytest.raises(PlanTampered):
        open_plan_store("plans", tmp_path, key=other).get(record.plan_id)


def test_a_broken_development_key_file_says_what_to_do(tmp_path):
    path = tmp_path / ".gitops" / "plan.key"
    path.parent.mkdir()
    path.write_text("not a key")
    with pytest.raises(ConfigError, match="GITOPS_PLAN_KEY") as caught:
        load_plan_key(tmp_path, print)
    assert caught.value.file == str(path) and caught.value.exit_code == 2
