"""What `terraform init` reads of a unit (core/changes/init_inputs.py): a change to values keeps an initialised
folder usable; a new provider, module call, module version, backend or lock file does not."""

from __future__ import annotations

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
