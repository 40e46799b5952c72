"""Change detection on small real infrastructure trees: which units a pull request touches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_pipelines.core.changes import ModuleRef, affected_units, module_dependencies, module_refs
from gitops_pipelines.core.config import load_config

GITOPS_YAML = """\
environments:
  - name: test
    auto_apply: true
  - name: prod
units:
{units}
"""

# bucket <- site <- web (a chain), bucket <- api, network is used by api through a git tag only,
# dns uses an undeclared shared folder.
INFRA = {
    "modules/bucket/main.tf": 'resource "aws_s3_bucket" "this" {\n  bucket = var.name\n}\n',
    "modules/bucket/variables.tf": 'variable "name" {\n  type = string\n}\n',
    "modules/bucket/tests/basic.tftest.hcl": 'run "plan" {\n  command = plan\n}\n',
    "modules/bucket/examples/simple/main.tf": 'module "bucket" {\n  source = "../.."\n  name = "x"\n}\n',
    "modules/site/main.tf": 'module "content" {\n  source = "../bucket"\n  name   = "${var.name}-content"\n}\n'
    'variable "name" {}\n',
    "modules/network/main.tf": 'resource "aws_vpc" "this" {\n  cidr_block = "10.0.0.0/16"\n}\n',
    "projects/web/main.tf": 'module "site" {\n  source = "../../modules/site"\n  name   = "web"\n}\n',
    "projects/api/main.tf": 'module "uploads" {\n  source = "../../modules/bucket"\n  name   = "uploads"\n}\n\n'
    'module "net" {\n'
    '  source = "git::https://github.com/org/infra.git//modules/network?ref=network-v1.0.0"\n}\n',
    "projects/dns/main.tf": 'module "tags" {\n  source = "../../shared/tags"\n}\n',
    "shared/tags/outputs.tf": 'output "tags" {\n  value = { team = "platform" }\n}\n',
    "README.md": "# infra\n",
}
UNITS = [
    ("bucket", "module", "modules/bucket"),
    ("site", "module", "modules/site"),
    ("network", "module", "modules/network"),
    ("web", "project", "projects/web"),
    ("api", "project", "projects/api"),
    ("dns", "project", "projects/dns"),
]


def write_tree(root: Path, files: dict[str, str], units: list[tuple[str, str, str]]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    listing = "\n".join(f"  - name: {n}\n    kind: {k}\n    path: {p}" for n, k, p in units)
    config_file = root / "gitops.yaml"
    config_file.write_text(GITOPS_YAML.format(units=listing))
    return config_file


@pytest.fixture
def config(tmp_path):
    return load_config(write_tree(tmp_path, INFRA, UNITS))


def names(units) -> list[str]:
    return [u.name for u in units]


def test_module_change_affects_the_module_and_every_consumer_in_config_order(config):
    assert names(affected_units(config, ["modules/bucket/main.tf"])) == ["bucket", "site", "web", "api"]


def test_transitive_chain_only_goes_upwards(config):
    assert names(affected_units(config, ["modules/site/main.tf"])) == ["site", "web"]


def test_project_only_change(config):
    assert names(affected_units(config, ["projects/dns/main.tf"])) == ["dns"]


def test_unrelated_files_affect_nothing(config):
    assert affected_units(config, ["README.md", "docs/adr/0001.md", ".github/workflows/ci.yml"]) == []
    assert affected_units(config, []) == []


def test_module_tests_and_examples_count_for_the_module_only(config):
    changed = ["modules/bucket/tests/basic.tftest.hcl", "modules/bucket/examples/simple/main.tf"]
    assert names(affected_units(config, changed)) == ["bucket"]


def test_module_used_by_git_tag_does_not_affect_its_consumers(config):
    # api pins network-v1.0.0: a change to the module's folder reaches api only through a new release
    assert names(affected_units(config, ["modules/network/main.tf"])) == ["network"]


def test_undeclared_local_folder_affects_the_units_that_use_it(config):
    assert names(affected_units(config, ["shared/tags/outputs.tf"])) == ["dns"]


def test_gitops_yaml_change_affects_every_unit(config):
    assert names(affected_units(config, ["gitops.yaml"])) == [n for n, _, _ in UNITS]


def test_several_files_union(config):
    assert names(affected_units(config, ["modules/site/variables.tf", "projects/dns/main.tf"])) == ["site", "web", "dns"]


def test_deleted_file_still_counts(config):
    assert names(affected_units(config, ["projects/api/removed.tf"])) == ["api"]


def test_broken_hcl_affects_the_unit_that_holds_it_and_never_crashes(tmp_path):
    files = {**INFRA, "projects/dns/broken.tf": 'resource "aws_route53_zone" "z" {\n  name = \n'}
    config = load_config(write_tree(tmp_path, files, UNITS))
    # the syntax stage of dns reports the error even when the PR changed something else
    assert names(affected_units(config, ["modules/site/main.tf"])) == ["site", "web", "dns"]
    assert names(affected_units(config, ["projects/dns/broken.tf"])) == ["dns"]


def test_broken_hcl_in_a_used_module_affects_that_module(tmp_path):
    files = {**INFRA, "modules/bucket/bad.tf": "module {{{"}
    config = load_config(write_tree(tmp_path, files, UNITS))
    assert names(affected_units(config, [])) == ["bucket"]
    # its other files still parse, so the graph still holds
    assert module_dependencies(config)["api"] == {"bucket"}


def test_changed_paths_relative_to_the_repository_root(tmp_path):
    config = load_config(write_tree(tmp_path / "infra", INFRA, UNITS))
    changed = ["infra/modules/site/main.tf", "app/src/main.py"]
    assert names(affected_units(config, changed, repo_root=tmp_path)) == ["site", "web"]
    assert names(affected_units(config, [str(tmp_path / "infra/projects/dns/main.tf")])) == ["dns"]
    assert len(affected_units(config, ["infra/gitops.yaml"], repo_root=tmp_path)) == len(UNITS)


def test_cyclic_local_modules_terminate(tmp_path):
    files = {
        "modules/a/main.tf": 'module "b" {\n  source = "../b"\n}\n',
        "modules/b/main.tf": 'module "a" {\n  source = "../a"\n}\n',
        "projects/p/main.tf": 'module "a" {\n  source = "../../modules/a"\n}\n',
    }
    units = [("a", "module", "modules/a"), ("b", "module", "modules/b"), ("p", "project", "projects/p")]
    config = load_config(write_tree(tmp_path, files, units))
    assert names(affected_units(config, ["modules/b/main.tf"])) == ["a", "b", "p"]
    assert module_dependencies(config) == {"a": {"b"}, "b": {"a"}, "p": {"a"}}


def test_nested_unit_owns_its_own_files(tmp_path):
    files = {
        "main.tf": 'module "bucket" {\n  source = "./modules/bucket"\n}\n',
        "modules/bucket/main.tf": 'resource "aws_s3_bucket" "b" {}\n',
        "modules/other/main.tf": 'resource "aws_s3_bucket" "o" {}\n',
    }
    units = [("root", "project", "."), ("bucket", "module", "modules/bucket"), ("other", "module", "modules/other")]
    config = load_config(write_tree(tmp_path, files, units))
    assert names(affected_units(config, ["modules/other/main.tf"])) == ["other"]
    assert names(affected_units(config, ["modules/bucket/main.tf"])) == ["root", "bucket"]
    assert names(affected_units(config, ["main.tf"])) == ["root"]


def test_tf_json_module_sources_count(tmp_path):
    files = {
        "modules/bucket/main.tf": 'resource "aws_s3_bucket" "b" {}\n',
        "projects/p/main.tf.json": json.dumps({"module": {"b": {"source": "../../modules/bucket"}}}),
    }
    units = [("bucket", "module", "modules/bucket"), ("p", "project", "projects/p")]
    config = load_config(write_tree(tmp_path, files, units))
    assert names(affected_units(config, ["modules/bucket/main.tf"])) == ["bucket", "p"]


def test_module_dependencies_direct_edges(config):
    assert module_dependencies(config) == {
        "bucket": set(),
        "site": {"bucket"},
        "network": set(),
        "web": {"site"},
        "api": {"bucket"},  # network is referenced by git tag, not by path
        "dns": set(),  # shared/tags is not a declared unit and uses nothing
    }


def test_module_dependencies_look_through_undeclared_folders(tmp_path):
    files = {**INFRA, "shared/tags/main.tf": 'module "net" {\n  source = "../../modules/network"\n}\n'}
    config = load_config(write_tree(tmp_path, files, UNITS))
    assert module_dependencies(config)["dns"] == {"network"}
    assert names(affected_units(config, ["modules/network/main.tf"])) == ["network", "dns"]


def test_module_refs_local_and_git_tag(config):
    refs = module_refs(config.unit_dir(config.unit("api")))
    assert [r.block for r in refs] == ["uploads", "net"]
    local, git = refs
    assert local.kind == "local" and local.name == "bucket" and local.ref is None
    assert Path(local.path) == config.unit_dir(config.unit("bucket"))
    assert git == ModuleRef(
        name="network",
        source="git::https://github.com/org/infra.git//modules/network?ref=network-v1.0.0",
        path="modules/network",
        ref="network-v1.0.0",
        kind="git",
        block="net",
        file=str(config.unit_dir(config.unit("api")) / "main.tf"),
    )
    assert str(git.version) == "1.0.0"


@pytest.mark.parametrize(
    ("source", "name", "path", "ref", "kind", "version"),
    [
        ("git::https://github.com/org/infra.git//modules/bucket?ref=bucket-v1.2.0", "bucket", "modules/bucket", "bucket-v1.2.0", "git", "1.2.0"),
        ("git::ssh://git@github.com/org/infra.git//modules/s3-bucket?ref=s3-bucket-v2.0.0-rc.1", "s3-bucket", "modules/s3-bucket", "s3-bucket-v2.0.0-rc.1", "git", "2.0.0-rc.1"),
        ("github.com/org/infra//modules/net?ref=main", "net", "modules/net", "main", "git", None),
        ("git@github.com:org/terraform-bucket.git?ref=v1.0.0", "terraform-bucket", "", "v1.0.0", "git", None),
        ("terraform-aws-modules/vpc/aws", "vpc", "", "~> 5.0", "registry", None),
        ("s3::https://s3.amazonaws.com/bucket/module.zip", "module.zip", "", None, "other", None),
    ],
)
def test_module_refs_source_forms(tmp_path, source, name, path, ref, kind, version):
    (tmp_path / "main.tf").write_text(f'module "m" {{\n  source  = "{source}"\n  version = "~> 5.0"\n}}\n')
    (found,) = module_refs(tmp_path)
    assert (found.name, found.path, found.ref, found.kind) == (name, path, ref, kind)
    assert (str(found.version) if found.version else None) == version


def test_module_refs_skips_broken_files(tmp_path):
    (tmp_path / "a.tf").write_text('module "ok" {\n  source = "./x"\n}\n')
    (tmp_path / "b.tf").write_text('module "bad" {\n  source = \n')
    assert [r.block for r in module_refs(tmp_path)] == ["ok"]
    assert module_refs(tmp_path / "missing") == []
