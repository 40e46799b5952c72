"""Provider lock files compared as Terraform compares them, so a refused apply can name the provider that changed."""

from __future__ import annotations

import pytest

from gitops_pipelines.core.plan_store.lock_file import LockFileUnreadable, compare_lock_files, read_lock_file

AWS = "registry.terraform.io/hashicorp/aws"
RANDOM = "registry.terraform.io/hashicorp/random"
H1 = "h1:edXOJWE4ORX8Fm+dpVpICzMZJat4AX0VRCAy/xkcOc0="
ZH = "zh:0d9b3e33e1f5c4c6d3b1d7d1a1cf5fbd3f2f1a7e8d0e9c5b3c5a0a7e3f4b5c6d"

# as `terraform init` writes it from the provider mirror the tests use
PLANNED = f"""# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "{AWS}" {{
  version     = "5.100.0"
  constraints = "~> 5.0"
  hashes = [
    "{H1}",
  ]
}}
""".encode()


def lock(version: str = "5.100.0", constraints: str = "~> 5.0", hashes: tuple[str, ...] = (H1,),
         extra: str = "") -> bytes:
    listed = "".join(f'    "{h}",\n' for h in hashes)
    return (f'provider "{AWS}" {{\n  version = "{version}"\n  constraints = "{constraints}"\n'
            f"  hashes = [\n{listed}  ]\n}}\n{extra}").encode()


def test_a_lock_file_reads_into_its_providers():
    (aws,) = read_lock_file(PLANNED).values()
    assert (aws.source, aws.version, aws.constraints, aws.hashes) == (AWS, "5.100.0", "~> 5.0", frozenset({H1}))


def test_the_same_selections_written_differently_are_the_same():
    assert compare_lock_files(PLANNED, PLANNED) == []
    assert compare_lock_files(PLANNED, lock()) == [], "comments and spacing are not selections"


def test_another_version_names_the_provider_and_both_versions():
    (change,) = compare_lock_files(PLANNED, lock(version="5.99.0"))
    assert change.source == AWS
    assert change.describe() == f"{AWS}: version 5.100.0 in the plan, 5.99.0 in the checkout"


def test_other_constraints_are_a_change():
    (change,) = compare_lock_files(PLANNED, lock(constraints=">= 5.0.0"))
    assert "constraints '~> 5.0' in the plan, '>= 5.0.0' in the checkout" in change.describe()


def test_a_provider_added_or_removed_is_named():
    added = f'provider "{RANDOM}" {{\n  version = "3.6.0"\n  hashes = ["{ZH}"]\n}}\n'
    (change,) = compare_lock_files(PLANNED, lock(extra=added))
    assert change.source == RANDOM and "in the checkout's lock file, not in the plan's" in change.describe()
    (change,) = compare_lock_files(lock(extra=added), PLANNED)
    assert change.source == RANDOM and "in the plan's lock file, not in the checkout's" in change.describe()


def test_other_hashes_are_a_change_except_those_init_still_adds():
    (change,) = compare_lock_files(PLANNED, lock(hashes=(ZH,)))
    assert "other package hashes" in change.describe()
    assert compare_lock_files(PLANNED, lock(hashes=(H1, ZH))) != []
    # a committed lock without the h1 hash of the local package: `init` adds it, and then both agree
    planned_after_init = lock(hashes=(H1, ZH))
    assert compare_lock_files(planned_after_init, lock(hashes=(ZH,)), before_init=True) == []
    assert compare_lock_files(planned_after_init, lock(hashes=(ZH,))) != []
    # init never removes a hash, so one the plan lacks stays a change
    assert compare_lock_files(PLANNED, lock(hashes=(H1, ZH)), before_init=True) != []


def test_a_broken_lock_file_is_unreadable():
    with pytest.raises(LockFileUnreadable, match="not valid HCL"):
        read_lock_file(b'provider "x" {\n')
