"""The unit source by content, on small real git repositories: what changes the hash of a unit and what does not;
and plan bindings that carry it (old records without it still load)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_pipelines.core.changes.source import source_hash, source_manifest
from gitops_pipelines.core.checkout import checkout_commit
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.plan_store import PlanBinding, open_plan_store
from gitops_pipelines.core.plan_store.sealing import Sealer
from gitops_pipelines_tests.fixtures.infra_repo import git

GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
KEY = bytes(range(32))

GITOPS = """\
environments:
  - name: test
    auto_apply: true
    var_files: [../../shared/test.tfvars]
units:
  - name: bucket
    kind: module
    path: modules/bucket
  - name: site
    kind: module
    path: modules/site
  - name: web
    kind: project
    path: projects/web
  - name: api
    kind: project
    path: projects/api
  - name: nested
    kind: project
    path: projects/web/nested
"""

LOCK = """\
# This file is maintained automatically by "terraform init".
provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.100.0"
  constraints = "~> 5.0"
  hashes = [
    "h1:aaaa",
  ]
}
"""

# web -> modules/site -> modules/bucket (transitively); api uses modules/bucket too; web holds a nested project
TREE = {
    "gitops.yaml": GITOPS,
    "README.md": "# infra\n",
    "shared/test.tfvars": 'region = "us-east-1"\n',
    "modules/bucket/main.tf": 'resource "aws_s3_bucket" "this" {\n  bucket = var.name\n}\n'
                              'variable "name" {}\n',
    "modules/bucket/tests/basic.tftest.hcl": 'run "plan" {\n  command = plan\n}\n',
    "modules/site/main.tf": 'module "content" {\n  source = "../bucket"\n  name   = "${var.name}-content"\n}\n'
                            'variable "name" {}\n',
    "projects/web/main.tf": 'module "site" {\n  source = "../../modules/site"\n  name   = "web"\n}\n',
    "projects/web/policy.json": '{"Version": "2012-10-17"}\n',
    "projects/web/.terraform.lock.hcl": LOCK,
    "projects/web/nested/main.tf": 'resource "aws_s3_bucket" "n" {\n  bucket = "n"\n}\n',
    "projects/api/main.tf": 'module "uploads" {\n  source = "../../modules/bucket"\n  name   = "uploads"\n}\n',
}


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git(repo, *GIT_ID, "add", "-A")
    git(repo, *GIT_ID, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    first = commit(root, TREE, "initial")
    return root, first


def web_hash_at(repo: Path, sha: str, **kwargs) -> str:
    """The hash of `web` in a worktree of sha (its own folder, as the stages see a commit)."""
    checkout = checkout_commit(repo, sha)
    config = load_config(checkout / "gitops.yaml")
    return source_hash(config, config.unit("web"), checkout, **kwargs)


def test_the_same_code_at_two_commits_and_in_two_checkouts_hashes_the_same(repo):
    root, first = repo
    later = commit(root, {}, "an empty commit")
    assert web_hash_at(root, first) == web_hash_at(root, later)
    config = load_config(root / "gitops.yaml")
    assert source_hash(config, "web") == source_hash(config, config.unit("web"), root) == web_hash_at(root, first)


@pytest.mark.parametrize("files", [
    {"README.md": "# infra, rewritten\n"},
    {"projects/api/main.tf": TREE["projects/api/main.tf"] + "# api only\n"},
    {"projects/web/nested/main.tf": TREE["projects/web/nested/main.tf"] + "# the nested project's own\n"},
    {"modules/bucket/tests/basic.tftest.hcl": 'run "plan2" {\n  command = plan\n}\n'},
    {"modules/bucket/.terraform.lock.hcl": LOCK.replace("5.100.0", "5.1.0")},  # a module's own, never in use
    {"gitops.yaml": GITOPS + "drift:\n  cron: \"0 7 * * *\"\n"},
    {"projects/web/.terraform.lock.hcl": "# reformatted\n" + LOCK.replace("  version     =", "  version =")},
], ids=["readme", "another-project", "nested-project", "module-tests", "module-lock", "gitops-yaml",
        "lock-comment-only"])
def test_a_change_elsewhere_keeps_the_hash(repo, files):
    root, first = repo
    moved = commit(root, files, "elsewhere")
    assert web_hash_at(root, moved) == web_hash_at(root, first)


@pytest.mark.parametrize("files", [
    {"projects/web/main.tf": TREE["projects/web/main.tf"] + "# a comment is code too\n"},
    {"projects/web/policy.json": '{"Version": "2008-10-17"}\n'},  # read by file() in real projects
    {"projects/web/extra.tf": 'output "x" {\n  value = 1\n}\n'},
    {"projects/web/policy.json": None},
    {"modules/site/main.tf": TREE["modules/site/main.tf"] + "\n"},  # a module it sources
    {"modules/bucket/main.tf": TREE["modules/bucket/main.tf"].replace("var.name", "\"${var.name}\"")},  # transitively
    {"modules/bucket/versions.tf": 'terraform {\n  required_version = ">= 1.6"\n}\n'},
    {"projects/web/.terraform.lock.hcl": LOCK.replace("5.100.0", "5.101.0")},
    {"projects/web/.terraform.lock.hcl": LOCK.replace('"h1:aaaa",', '"h1:aaaa",\n    "h1:bbbb",')},
    {"projects/web/.terraform.lock.hcl": None},
    {"shared/test.tfvars": 'region = "eu-west-1"\n'},  # an environment's var file outside the unit
], ids=["unit-comment", "unit-data-file", "unit-new-file", "unit-removed-file", "module", "module-of-module",
        "module-new-file", "lock-version", "lock-hashes", "lock-removed", "var-file"])
def test_a_change_under_the_unit_changes_the_hash(repo, files):
    root, first = repo
    moved = commit(root, files, "under the unit")
    assert web_hash_at(root, moved) != web_hash_at(root, first)


def test_without_a_lock_file_in_the_checkout_the_given_one_is_the_one_in_use(repo):
    """A repository that commits none: the plan's checkout has the one `init` wrote, the merge commit has none,
    and the apply restores the plan's sealed lock file, so passing that one gives the plan's hash."""
    root, first = repo
    planned = web_hash_at(root, first)  # as at plan time: the lock file is in the unit folder
    merge = commit(root, {"projects/web/.terraform.lock.hcl": None}, "no lock file committed")
    assert web_hash_at(root, merge, lock_file=LOCK.encode()) == planned
    assert web_hash_at(root, merge, lock_file=LOCK.replace("5.100.0", "5.101.0").encode()) != planned
    assert web_hash_at(root, merge) != planned
    # a lock file in the checkout is the one Terraform uses: it wins over the given one
    assert web_hash_at(root, first, lock_file=b"anything") == planned


def test_terraform_working_files_do_not_count(repo):
    root, _ = repo
    config = load_config(root / "gitops.yaml")
    before = source_hash(config, "web")
    for name in ("projects/web/.terraform/providers/x", "modules/site/.terraform/modules/modules.json",
                 "projects/web/terraform.tfstate", "projects/web/.terraform.tfstate.lock.info"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("generated")
    assert source_hash(config, "web") == before


def test_the_manifest_names_what_counts(repo):
    root, _ = repo
    config = load_config(root / "gitops.yaml")
    names = [name for name, _ in source_manifest(config, "web")]
    assert names == ["modules/bucket/main.tf", "modules/site/main.tf", "projects/web/main.tf",
                     "projects/web/policy.json", "shared/test.tfvars", "(lock file in use)"]
    api = [name for name, _ in source_manifest(config, "api")]
    assert api == ["modules/bucket/main.tf", "projects/api/main.tf", "shared/test.tfvars", "(lock file in use)"]
    assert source_manifest(config, "api")[-1] == ("(lock file in use)", "none")


def test_a_module_cycle_and_a_missing_module_are_fine(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a/main.tf").write_text('module "b" {\n  source = "../b"\n}\n'
                                        'module "gone" {\n  source = "../gone"\n}\n')
    (tmp_path / "b/main.tf").write_text('module "a" {\n  source = "../a"\n}\n')
    (tmp_path / "gitops.yaml").write_text("environments:\n  - name: test\nunits:\n"
                                          "  - name: a\n    kind: project\n    path: a\n")
    config = load_config(tmp_path / "gitops.yaml")
    assert [n for n, _ in source_manifest(config, "a")] == ["a/main.tf", "b/main.tf", "(lock file in use)"]


# -- the binding -------------------------------------------------------------------------------------------------
def binding(**extra) -> PlanBinding:
    return PlanBinding(unit="web", environment="test", change="pr-3", head_sha="a" * 40, base_sha="b" * 40,
                       terraform_version="1.11.0", **extra)


def test_a_binding_keeps_source_hash_and_commit(tmp_path):
    store = open_plan_store("plans", tmp_path, key=KEY)
    saved = store.save(b"plan-bytes", {}, "", binding(source_hash="c" * 64, commit="d" * 40))
    again = store.get(saved.plan_id).record.binding
    assert (again.source_hash, again.commit, again.head_sha) == ("c" * 64, "d" * 40, "a" * 40)


def test_a_record_saved_before_source_hash_and_commit_still_loads_and_verifies(tmp_path):
    store = open_plan_store("plans", tmp_path, key=KEY)
    saved = store.save(b"old-plan-bytes", {}, "", binding())
    record_file = tmp_path / "plans" / saved.plan_id / "record.json"
    assert record_file.is_file()
    data = json.loads(record_file.read_bytes())
    data.pop("hmac")
    del data["binding"]["source_hash"], data["binding"]["commit"]
    record_file.write_bytes(Sealer(KEY).sign(data))  # as an older release wrote it

    loaded = store.get(saved.plan_id).record
    assert loaded.binding.source_hash is None and loaded.binding.commit is None
    assert loaded.binding == binding()
    assert store.verify_all() == [(saved.plan_id, None)]
    assert [r.plan_id for r in store.list(unit="web")] == [saved.plan_id]
