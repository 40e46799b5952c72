"""module_refs on real `.tf` files and real git: modules from outside a unit are used only by a release tag that
exists (read with `git ls-remote` through the git config Terraform gets); each wrong reference names its file,
line and the source to write instead. The last test runs a real `terraform init` of a project pinned to a tag,
offline."""

from __future__ import annotations

import json
import textwrap

import pytest

from gitops_pipelines.core.changes.pinning import check_module_refs, git_remote_refs, released_module_files
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.terraform import TerraformRunner
from gitops_pipelines_dev.mirror import find_provider_mirror
from gitops_pipelines_tests.fixtures.infra_repo import git, release_tag, serve_repository

URL = "https://github.com/acme/infra.git"
GITOPS_YAML = """\
github:
  repository: acme/infra
environments:
  - name: test
units:
  - {name: bucket, kind: module, path: modules/bucket}
  - {name: app, kind: project, path: projects/app}
"""
BUCKET = 'resource "aws_s3_bucket" "this" {\n  bucket = var.name\n}\n\nvariable "name" {\n  type = string\n}\n'


def module(label: str, source: str, extra: str = "") -> str:
    return f'module "{label}" {{\n  source = "{source}"\n{extra}  name   = "{label}"\n}}\n\n'


@pytest.fixture
def repo(tmp_path):
    """acme/infra with the bucket module released as bucket/v0.1.0 and bucket/v0.2.0 (and a branch `develop`)."""
    root = tmp_path / "infra"
    (root / "modules/bucket").mkdir(parents=True)
    (root / "projects/app").mkdir(parents=True)
    (root / "gitops.yaml").write_text(GITOPS_YAML)
    (root / "modules/bucket/main.tf").write_text(BUCKET)
    (root / "projects/app/main.tf").write_text("")
    git(root, "init", "-q", "-b", "main")
    _commit(root, "bucket 0.1.0")
    release_tag(root, "bucket/v0.1.0")
    (root / "modules/bucket/main.tf").write_text(BUCKET + "\n# 0.2.0\n")
    _commit(root, "bucket 0.2.0")
    release_tag(root, "bucket/v0.2.0")
    git(root, "branch", "develop")
    git(root, "tag", "nightly")  # a tag that is not a semantic version
    return root


def _commit(root, message: str) -> None:
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", message)


def check(root, tmp_path, main_tf: str, files: dict[str, str] | None = None):
    (root / "projects/app/main.tf").write_text(main_tf)
    for name, text in (files or {}).items():
        (root / "projects/app" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "projects/app" / name).write_text(text)
    config = load_config(root / "gitops.yaml", environ={})
    git_config = serve_repository(root, tmp_path / "gitconfig", URL)
    return check_module_refs(config, "app", root, remote_refs=git_remote_refs(str(git_config)),
                             released_files=released_module_files(config, root))


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_module_pinned_to_a_release_tag_passes(repo, tmp_path):
    result = check(repo, tmp_path, module("files", f"git::{URL}//modules/bucket?ref=bucket/v0.1.0"))
    assert result.passed, result.summary()
    assert [(p.block, p.module, p.ref) for p in result.pinned] == [("files", "bucket", "bucket/v0.1.0")]
    assert result.summary() == "app: every module is a pinned release (bucket bucket/v0.1.0)"


def test_each_wrong_reference_names_file_line_and_the_source_to_write(repo, tmp_path):
    main_tf = (module("unpinned", f"git::{URL}//modules/bucket")
               + module("branch", f"git::{URL}//modules/bucket?ref=develop")
               + module("missing", f"git::{URL}//modules/bucket?ref=bucket/v9.9.9")
               + module("nightly", f"git::{URL}//modules/bucket?ref=nightly")
               + module("local", "../../modules/bucket")
               + module("range", "terraform-aws-modules/s3-bucket/aws", '  version = "~> 4.0"\n')
               + module("exact", "terraform-aws-modules/s3-bucket/aws", '  version = "4.1.2"\n'))
    result = check(repo, tmp_path, main_tf)
    assert not result.passed
    found = {f.message.split("'")[1]: f for f in result.findings}  # by block label
    assert set(found) == {"unpinned", "branch", "missing", "nightly", "local", "range"}
    for label, finding in found.items():
        assert finding.file == "projects/app/main.tf"
        assert finding.line == line_of(main_tf, f'module "{label}"') + 1  # the `source =` line
    assert found["unpinned"].problem == "unpinned" and "without `?ref=`" in found["unpinned"].message
    assert found["branch"].problem == "not-a-tag" and "'develop' is a branch or a commit" in found["branch"].message
    assert found["missing"].problem == "missing-tag"
    assert f"tag 'bucket/v9.9.9' does not exist in {URL}" in found["missing"].message
    assert found["nightly"].problem == "not-semver"
    newest = f'source = "git::{URL}//modules/bucket?ref=bucket/v0.2.0"'
    for label in ("unpinned", "branch", "missing", "nightly"):
        assert newest in found[label].fix and "the newest is bucket/v0.2.0" in found[label].fix
    assert found["local"].problem == "local-path" and "the bucket module's folder" in found["local"].message
    assert found["local"].fix == f'write `{newest}`'
    assert found["range"].problem == "version-range" and "'~> 4.0', a constraint" in found["range"].message
    assert [p.block for p in result.pinned] == ["exact"]
    annotation = result.annotations()[0]
    assert annotation["path"] == "projects/app/main.tf" and annotation["annotation_level"] == "failure"


def test_local_modules_inside_the_unit_are_allowed_and_checked_in_turn(repo, tmp_path):
    inner = module("deep", f"git::{URL}//modules/bucket?ref=main")
    result = check(repo, tmp_path, module("mine", "./modules/own"), {"modules/own/main.tf": inner})
    (finding,) = result.findings
    assert finding.file == "projects/app/modules/own/main.tf" and finding.problem == "not-a-tag"


def test_a_file_copied_from_a_released_module_is_flagged(repo, tmp_path):
    result = check(repo, tmp_path, "", {"copied.tf": BUCKET})
    (finding,) = result.findings
    assert (finding.file, finding.problem) == ("projects/app/copied.tf", "copied")
    assert "copy of modules/bucket/main.tf as released in bucket/v0.1.0" in finding.message
    assert "?ref=bucket/v0.1.0" in finding.fix


def test_a_repository_that_cannot_be_read_is_named(repo, tmp_path):
    missing = "https://github.com/acme/gone.git"
    result = check(repo, tmp_path, module("gone", f"git::{missing}//modules/x?ref=x/v1.0.0"))
    (finding,) = result.findings
    assert f"its tags could not be read from {missing}" in finding.message
    assert "terraform.git_config" in finding.fix


@pytest.mark.slow
def test_terraform_init_of_a_project_pinned_to_a_tag_resolves_offline(repo, tmp_path):
    """The URL stays github.com's; the git config Terraform gets maps it to the local repository."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.tf").write_text(textwrap.dedent(f"""\
        module "files" {{
          source = "git::{URL}//modules/bucket?ref=bucket/v0.1.0"
          name   = "files"
        }}
        """))
    runner = TerraformRunner(provider_mirror=find_provider_mirror(),
                             git_config=str(serve_repository(repo, tmp_path / "gitconfig", URL)))
    runner.init(project, data_dir=tmp_path / "data", backend=False)
    fetched = (tmp_path / "data/modules/files/modules/bucket/main.tf").read_text()
    assert fetched == BUCKET  # the tagged content, not the newer commit on main


def test_modules_consumers_lists_who_uses_which_release_and_who_is_behind(repo, tmp_path, capsys):
    from gitops_pipelines.cli import main

    (repo / "projects/web").mkdir()
    (repo / "projects/web/main.tf").write_text(module("site", f"git::{URL}//modules/bucket?ref=bucket/v0.2.0"))
    (repo / "projects/app/main.tf").write_text(module("files", f"git::{URL}//modules/bucket?ref=bucket/v0.1.0")
                                               + module("scratch", "../../modules/bucket"))
    git_config = serve_repository(repo, tmp_path / "gitconfig", URL)
    (repo / "gitops.yaml").write_text(GITOPS_YAML + "  - {name: web, kind: project, path: projects/web}\n"
                                      f"terraform:\n  git_config: {git_config}\n")
    cfg = ["--config", str(repo / "gitops.yaml")]
    assert main(["modules", "consumers", "bucket", "--json", *cfg]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["latest"] == "bucket/v0.2.0"
    assert [(c["unit"], c["block"], c["uses"], c["behind"]) for c in report["consumers"]] == [
        ("app", "files", "bucket/v0.1.0", True), ("app", "scratch", "local path (unpinned)", True),
        ("web", "site", "bucket/v0.2.0", False)]
    assert main(["modules", "consumers", "bucket", *cfg]) == 0
    text = capsys.readouterr().out
    assert "bucket: newest release bucket/v0.2.0; 3 use(s), 2 behind" in text
    assert main(["module-refs", "app", *cfg]) == 1
    assert "'scratch' sources '../../modules/bucket'" in capsys.readouterr().out
    assert main(["modules", "consumers", "app", *cfg]) == 2  # not a module


def test_a_module_is_not_a_copy_of_its_own_releases(repo, tmp_path):
    check(repo, tmp_path, "")
    config = load_config(repo / "gitops.yaml", environ={})
    result = check_module_refs(config, "bucket", repo, remote_refs=git_remote_refs(None),
                               released_files=released_module_files(config, repo))
    assert result.passed, result.summary()
