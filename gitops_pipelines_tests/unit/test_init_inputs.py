"""What `terraform init` reads of a unit (core/changes/init_inputs.py): a change to values keeps an initialised
folder usable; a new provider, module call, module version, backend or lock file does not."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitops_pipelines.core.changes.init_inputs import InitInputsUnknown, init_inputs_hash
from gitops_pipelines.core.config import load_config

GITOPS_YAML = """\
environments:
  - name: test
    auto_apply: true
units:
  - name: site
    kind: project
    path: projects/site
"""
MAIN_TF = """\
terraform {
  backend "s3" {}
}

module "content" {
  source = "../../modules/bucket"
  name   = "content"
}

resource "aws_s3_bucket" "site" {
  bucket = "site"
}
"""
BUCKET_TF = 'resource "aws_s3_bucket" "this" {\n  bucket = var.name\n}\nvariable "name" {}\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "gitops.yaml").write_text(GITOPS_YAML)
    for name, text in {"projects/site/main.tf": MAIN_TF, "modules/bucket/main.tf": BUCKET_TF}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def digest(repo: Path) -> str:
    config = load_config(repo / "gitops.yaml")
    return init_inputs_hash(config, config.unit("site"))


def edit(repo: Path, name: str, old: str, new: str) -> None:
    path = repo / name
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


def test_values_outputs_and_locals_do_not_count(repo):
    before = digest(repo)
    edit(repo, "projects/site/main.tf", 'bucket = "site"', 'bucket = "site-2"\n  tags = { team = "web" }')
    (repo / "projects/site/outputs.tf").write_text('output "x" {\n  value = 1\n}\nlocals {\n  y = 2\n}\n')
    edit(repo, "modules/bucket/main.tf", "bucket = var.name", 'bucket = "${var.name}-x"')
    assert digest(repo) == before


@pytest.mark.parametrize("name, old, new", [
    ("projects/site/main.tf", 'backend "s3" {}', 'backend "local" {}'),
    ("projects/site/main.tf", 'name   = "content"', 'name   = "content"\n  version = "1.0.0"'),
    ("projects/site/main.tf", 'resource "aws_s3_bucket" "site"', 'resource "random_id" "site"'),
    ("projects/site/main.tf", 'bucket = "site"', 'bucket = "site"\n  provider = awscc.west'),
    ("modules/bucket/main.tf", 'resource "aws_s3_bucket"', 'resource "google_storage_bucket"'),
    ("projects/site/main.tf", 'module "content"', 'module "other"'),
])
def test_what_init_installs_counts(repo, name, old, new):
    before = digest(repo)
    edit(repo, name, old, new)
    assert digest(repo) != before


def test_a_new_lock_file_counts(repo):
    before = digest(repo)
    (repo / "projects/site/.terraform.lock.hcl").write_text(
        'provider "registry.terraform.io/hashicorp/aws" {\n  version = "5.100.0"\n}\n')
    assert digest(repo) != before


def test_a_file_that_does_not_parse_leaves_it_unknown(repo):
    (repo / "projects/site/broken.tf").write_text('resource "aws_s3_bucket" "x" {\n')
    with pytest.raises(InitInputsUnknown, match="broken.tf"):
        digest(repo)


# -- initialised folders that nothing uses any more (core/workspace.py prune_unused_folders) -------------------
def _folder(parent: Path, name: str, *, days_ago: float) -> Path:
    from gitops_pipelines.core.workspace import INIT_STAMP

    folder = parent / name
    (folder / "providers").mkdir(parents=True)
    (folder / INIT_STAMP).write_text(name)
    when = time.time() - days_ago * 86400
    os.utime(folder / INIT_STAMP, (when, when))
    return folder


def test_folders_unused_for_two_weeks_go_and_the_rest_stay(tmp_path):
    from gitops_pipelines.core.workspace import prune_unused_folders

    new = _folder(tmp_path, "a" * 24, days_ago=30)  # the one just made: kept whatever its age
    recent = _folder(tmp_path, "b" * 24, days_ago=3)
    stale = _folder(tmp_path, "c" * 24, days_ago=20)
    (tmp_path / ("d" * 24)).symlink_to(stale.name)  # an alias of the stale one
    (tmp_path / ("e" * 24)).symlink_to("f" * 24)  # an alias of a folder deleted by hand
    assert prune_unused_folders(tmp_path, keep=new) == [stale, tmp_path / ("d" * 24), tmp_path / ("e" * 24)]
    assert new.is_dir() and recent.is_dir() and not stale.exists()
    assert prune_unused_folders(tmp_path, keep=new) == []


def test_a_folder_a_stage_holds_is_never_deleted(tmp_path):
    from gitops_pipelines.core.checkout import exclusive
    from gitops_pipelines.core.workspace import prune_unused_folders

    keep = _folder(tmp_path, "a" * 24, days_ago=0)
    held = _folder(tmp_path, "b" * 24, days_ago=100)
    with exclusive(tmp_path / f"{held.name}.lock", 1.0, "a stage using it"):
        assert prune_unused_folders(tmp_path, keep=keep) == []
    assert held.is_dir()
