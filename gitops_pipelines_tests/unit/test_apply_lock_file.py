"""Before apply, the checkout gets the lock file the plan was made with, or the apply is refused naming the
provider that changed; no Terraform runs here (gitops_pipelines_tests/integration/test_lock_file_travels.py
does it for real)."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from gitops_pipelines.core.config import UnitConfig
from gitops_pipelines.core.errors import LockFileChanged
from gitops_pipelines.core.plan_store import PlanBinding, open_plan_store
from gitops_pipelines.core.plan_store.sealing import sha256_hex
from gitops_pipelines.core.stages.apply import _LockCheck
from gitops_pipelines_tests.unit.test_lock_file import AWS, H1, PLANNED, ZH, lock

UNIT = UnitConfig(name="storage", kind="project", path="projects/storage")


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture
def checkout(tmp_path):
    """A repository whose unit folder commits no lock file."""
    repo = tmp_path / "repo"
    (repo / UNIT.path).mkdir(parents=True)
    (repo / UNIT.path / "main.tf").write_text("# nothing\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "code")
    return repo / UNIT.path


def committed(unit_dir, data: bytes) -> None:
    (unit_dir / ".terraform.lock.hcl").write_bytes(data)
    git(unit_dir, "add", ".terraform.lock.hcl")
    git(unit_dir, "commit", "-q", "-m", "lock")


def stored_plan(tmp_path, planned: bytes | None = PLANNED, *, sealed: bool = True):
    store = open_plan_store("plans", tmp_path, key=b"u" * 32)
    binding = PlanBinding(unit="storage", environment="test", change="pr-5", terraform_version="1.11.0",
                          lock_hash=sha256_hex(planned) if planned is not None else None)
    record = store.save(b"plan " + (planned or b""), {}, "", binding, lock_file=planned if sealed else None)
    return store.get(record.plan_id)


def check(stored, unit_dir, lines=None) -> _LockCheck:
    ws = SimpleNamespace(log=(lines.append if lines is not None else None))
    return _LockCheck(ws, UNIT, "test", stored, unit_dir / ".terraform.lock.hcl")


def test_a_checkout_without_a_lock_file_gets_the_plans(tmp_path, checkout):
    lines: list[str] = []
    stored = stored_plan(tmp_path)
    lock_check = check(stored, checkout, lines)
    lock_check.before_init()
    assert (checkout / ".terraform.lock.hcl").read_bytes() == PLANNED
    assert lines == [f"storage/test: restored the provider lock file of plan {stored.record.short_id} into "
                     "projects/storage/.terraform.lock.hcl"]
    lock_check.after_init()


def test_a_lock_file_an_earlier_init_left_is_replaced_by_the_plans(tmp_path, checkout):
    (checkout / ".terraform.lock.hcl").write_bytes(lock(version="5.99.0"))  # untracked: not the commit's
    check(stored_plan(tmp_path), checkout).before_init()
    assert (checkout / ".terraform.lock.hcl").read_bytes() == PLANNED


def test_a_committed_lock_file_with_another_version_is_refused_naming_the_provider(tmp_path, checkout):
    committed(checkout, lock(version="5.99.0"))
    stored = stored_plan(tmp_path)
    with pytest.raises(LockFileChanged) as caught:
        check(stored, checkout).before_init()
    error = caught.value
    assert (error.unit, error.environment, error.plan_id, error.providers) == (
        "storage", "test", stored.record.plan_id, [AWS])
    message = str(error)
    assert message.startswith(f"storage/test: refusing plan {stored.record.short_id} (plan_id "
                              f"{stored.record.plan_id}) for pr-5: the provider lock file "
                              "projects/storage/.terraform.lock.hcl of this checkout selects other providers")
    assert f"{AWS}: version 5.100.0 in the plan, 5.99.0 in the checkout" in message
    assert "Re-plan" in message and error.exit_code == 3
    assert (checkout / ".terraform.lock.hcl").read_bytes() == lock(version="5.99.0"), "the commit's file is kept"


def test_a_committed_lock_file_is_the_plans_once_init_adds_its_hash(tmp_path, checkout):
    planned = lock(hashes=(H1, ZH))  # what the plan's init made of the committed file below
    committed(checkout, lock(hashes=(ZH,)))
    lock_check = check(stored_plan(tmp_path, planned), checkout)
    lock_check.before_init()  # init will add the h1 hash
    with pytest.raises(LockFileChanged, match="other package hashes"):
        lock_check.after_init()  # ... had it not
    (checkout / ".terraform.lock.hcl").write_bytes(planned)  # as init writes it
    lock_check.after_init()


def test_a_committed_lock_file_written_differently_but_the_same_is_accepted(tmp_path, checkout):
    committed(checkout, lock())  # no comments, other spacing: the same selections as PLANNED
    lock_check = check(stored_plan(tmp_path), checkout)
    lock_check.before_init()
    lock_check.after_init()
    assert (checkout / ".terraform.lock.hcl").read_bytes() == lock()


def test_a_plan_stored_without_its_lock_file_behaves_as_before(tmp_path, checkout):
    older = stored_plan(tmp_path, sealed=False)
    with pytest.raises(LockFileChanged, match="is missing, and the plan was stored without its lock file"):
        check(older, checkout).before_init()
    assert not (checkout / ".terraform.lock.hcl").exists()
    (checkout / ".terraform.lock.hcl").write_bytes(PLANNED)
    lock_check = check(older, checkout)
    lock_check.before_init()
    lock_check.after_init()


def test_a_plan_made_without_a_lock_file_holds_the_checkout_to_nothing(tmp_path, checkout):
    committed(checkout, lock(version="5.99.0"))
    lock_check = check(stored_plan(tmp_path, None), checkout)
    lock_check.before_init()
    lock_check.after_init()
