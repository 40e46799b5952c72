"""`releases.bump_consumers` on the GitHub emulator with real git: after a module release, one pull request per unit
behind it, its `?ref=` moved to the new tag; a unit already current, or using a local path, gets none; running it
again opens nothing twice."""

from __future__ import annotations

import subprocess

import pytest

from gitops_pipelines.core.changes.consumers import module_consumers
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.promotion.consumer_bumps import bump_consumers, bumped_source
from gitops_pipelines_tests.fixtures.infra_repo import git, release_tag
from gitops_pipelines_tests.integration.test_github_gateway import gateway

OWNER, NAME = "acme", "infra"
URL = "https://github.com/acme/infra.git"


def source(ref: str) -> str:
    return f'module "files" {{\n  source = "git::{URL}//modules/bucket?ref={ref}"\n  name   = "files"\n}}\n'


FILES = {
    "gitops.yaml": ("environments:\n  - name: test\nunits:\n  - {name: bucket, kind: module, path: modules/bucket}\n"
                    "  - {name: app, kind: project, path: projects/app}\n"
                    "  - {name: web, kind: project, path: projects/web}\n"
                    "  - {name: old, kind: project, path: projects/old}\n"
                    "github:\n  repository: acme/infra\n"),
    "modules/bucket/main.tf": "# bucket\n",
    "projects/app/main.tf": source("bucket/v0.1.0"),
    "projects/web/main.tf": source("bucket/v0.2.0"),
    "projects/old/main.tf": 'module "files" {\n  source = "../../modules/bucket"\n}\n',
}


@pytest.mark.usefixtures("every_answer_meets_the_contract")
def test_a_release_opens_one_bump_pull_request_per_unit_behind_it(emulator, tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(emulator.git_dir), str(clone)], check=True)
    for tag in ("bucket/v0.1.0", "bucket/v0.2.0"):
        release_tag(clone, tag)
    config = load_config(clone / "gitops.yaml", environ={})
    report = module_consumers(config, "bucket", ["bucket/v0.1.0", "bucket/v0.2.0"])
    head = git(clone, "rev-parse", "HEAD")
    gw = gateway(emulator)

    (bump,) = bump_consumers(clone, report, "bucket/v0.2.0", "modules/bucket", head, gateway=gw,
                             release_url="https://github.com/acme/infra/releases/tag/bucket/v0.2.0")
    assert (bump.unit, bump.files, bump.branch) == ("app", ("projects/app/main.tf",), "gitops/bump-bucket-v0.2.0-app")
    pull = emulator.repo.pull(bump.number)
    assert pull.issue.title == "app: use bucket bucket/v0.2.0" and "releases/tag/bucket/v0.2.0" in pull.issue.body
    work_item = int(pull.issue.body.split("Fixes #")[1].split()[0])  # every change starts from a work item
    assert emulator.repo.issues[work_item].title == "app: use bucket bucket/v0.2.0"
    assert emulator.repo.git.show_file(pull.head_sha, "projects/app/main.tf") == source("bucket/v0.2.0")
    assert emulator.repo.git.show_file(pull.head_sha, "projects/web/main.tf") == source("bucket/v0.2.0")
    assert emulator.repo.git.show_file("main", "projects/app/main.tf") == source("bucket/v0.1.0"), "main untouched"

    (again,) = bump_consumers(clone, report, "bucket/v0.2.0", "modules/bucket", head, gateway=gw)
    assert again.number is None and "open already" in again.note
    assert sum(p.issue.title.startswith("app: use bucket") for p in emulator.repo.pulls.values()) == 1


def test_only_the_modules_own_sources_are_bumped():
    text = (source("bucket/v0.1.0") + 'module "net" {\n  source = "git::https://github.com/acme/infra.git'
            '//modules/network?ref=network/v1.0.0"\n}\n')
    bumped = bumped_source(text, "modules/bucket", "bucket/v0.3.0")
    assert "?ref=bucket/v0.3.0" in bumped and "?ref=network/v1.0.0" in bumped
