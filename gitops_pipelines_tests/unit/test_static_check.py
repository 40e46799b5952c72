"""The static check on small Terraform trees: what would run programs or reach unallowed providers and modules is
refused, with the file and the line, before Terraform runs any of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_pipelines.core.config import GitopsConfig, load_config
from gitops_pipelines.core.errors import CodeRefused, ConfigError
from gitops_pipelines.core.security import (
    BUILTIN_PROVIDER, check_annotations, enforce_static_check, lock_files_in, provider_allowlist,
    providers_in_lock_files, static_check,
)

AWS = "registry.terraform.io/hashicorp/aws"
SAMPLE_INFRA = Path(__file__).resolve().parents[2] / "gitops_pipelines_dev" / "sample_infra"
LOCK_FILE = """\
# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.100.0"
  constraints = "~> 5.0"
  hashes = [
    "h1:edXOJWE4ORX8Fm+dpVpICzMZJat4AX0VRCAy/xkcOc0=",
    "zh:054b8dd49f0549c9a7cc27d159e45327b7b65cf404da5e5a20da154b90b8a644",
  ]
}

provider "registry.terraform.io/hashicorp/random" {
  version = "3.6.3"
  hashes = [
    "h1:zG9uFP8l9u+yGZZvi5Te7PV62j50azpgwPunq2vTm1E=",
  ]
}
"""
REQUIRES_AWS = 'terraform {\n  required_providers {\n    aws = {\n      source = "hashicorp/aws"\n    }\n  }\n}\n'


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def config(root: Path, units=(("app", "project", "app"),), *, security: dict | None = None,
           github: dict | None = None) -> GitopsConfig:
    raw = {
        "environments": [{"name": "test"}],
        "units": [{"name": n, "kind": k, "path": p} for n, k, p in units],
        "security": security or {},
        "root": root,
    }
    if github:
        raw["github"] = github
    return GitopsConfig.model_validate(raw)


def check(root: Path, files: dict[str, str], *, unit: str = "app", allowed=(AWS,), **kwargs):
    write(root, files)
    cfg = config(root, **kwargs)
    return static_check(cfg, unit, root, allowed_providers=allowed)


def where(findings) -> list[tuple[str, str, int]]:
    return [(f.rule, f.file, f.line) for f in findings]


# -- programs that run at plan or apply ----------------------------------------------------------------------
def test_an_external_data_source_is_refused_at_its_line(tmp_path):
    main = (REQUIRES_AWS + '\n# data "external" "old" { program = ["true"] }\n'
            'data "external" "whoami" {\n  program = ["sh", "-c", "env"]\n}\n')
    found = check(tmp_path, {"app/main.tf": main}, allowed=(AWS, "registry.terraform.io/hashicorp/external"))
    assert where(found) == [("external-data", "app/main.tf", 10)], "the commented-out block is not the one"
    assert 'data "external" "whoami" runs a program' in found[0].message


def test_what_runs_is_found_in_a_module_two_levels_deep_and_in_tf_json(tmp_path):
    deep = {
        "data": {"external": {"probe": {"program": ["curl", "https://example.com"]}}},
        "resource": {"terraform_data": {"hook": {"provisioner": [
            {"local-exec": {"command": "true"}},
            {"local-exec": {"command": "id"}},
        ]}}},
    }
    files = {
        "app/main.tf": 'module "a" {\n  source = "../modules/a"\n}\n',
        "modules/a/main.tf": 'variable "x" {\n  default = 1\n}\n\nmodule "b" {\n  source = "../b"\n}\n',
        "modules/b/hooks.tf.json": json.dumps(deep, indent=2),
    }
    found = check(tmp_path, files, allowed=())
    assert where(found) == [
        ("external-data", "modules/b/hooks.tf.json", 4),  # the line of its name, "probe"
        ("provider", "modules/b/hooks.tf.json", 4),  # external is hashicorp/external: not allowed either
        ("provisioner", "modules/b/hooks.tf.json", 17),
        ("provisioner", "modules/b/hooks.tf.json", 22),
    ]
    assert "registry.terraform.io/hashicorp/external is not allowed" in found[1].message


def test_an_external_data_source_inside_a_check_block_is_found(tmp_path):
    main = 'check "health" {\n  data "external" "ping" {\n    program = ["true"]\n  }\n  assert {\n' \
           '    condition = true\n    error_message = "x"\n  }\n}\n'
    found = check(tmp_path, {"app/checks.tf": main}, allowed=("registry.terraform.io/hashicorp/*",))
    assert where(found) == [("external-data", "app/checks.tf", 2)]


def test_provisioners_are_refused_unless_the_unit_is_allowed_them(tmp_path):
    main = REQUIRES_AWS + (
        '\nresource "aws_instance" "web" {\n  ami = "ami-1"\n'  # line 9
        '  provisioner "remote-exec" {\n    inline = ["id"]\n  }\n'  # line 11
        '  provisioner "local-exec" { command = "echo one" }\n'  # line 14
        '  provisioner "local-exec" {\n    command = "echo two"\n  }\n'  # line 15
        '}\n\nresource "terraform_data" "after" {\n'
        '  provisioner "local-exec" {\n    command = <<EOT\nprovisioner "local-exec" {\nEOT\n  }\n}\n'  # line 21
    )
    found = check(tmp_path, {"app/main.tf": main})
    assert where(found) == [("provisioner", "app/main.tf", n) for n in (11, 14, 15, 21)]
    assert 'resource "aws_instance" "web" has a "remote-exec" provisioner' in found[0].message
    assert "security.allow_provisioners" in found[0].message

    allowed = static_check(config(tmp_path, security={"allow_provisioners": {"app": ["local-exec"]}}), "app",
                           tmp_path, allowed_providers=[AWS])
    assert where(allowed) == [("provisioner", "app/main.tf", 11)], "the grant is for local-exec only"
    other = static_check(config(tmp_path, security={"allow_provisioners": {"other": ["local-exec", "remote-exec"]}}),
                         "app", tmp_path, allowed_providers=[AWS])
    assert len(other) == 4, "a grant to another unit does not count"


# -- providers -----------------------------------------------------------------------------------------------
def test_allowed_providers_and_the_builtin_one_pass(tmp_path):
    main = REQUIRES_AWS + (
        '\nprovider "aws" {\n  region = "us-east-1"\n}\n\n'
        'resource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n\n'
        'resource "terraform_data" "marker" {\n  input = aws_s3_bucket.b.id\n}\n\n'
        'data "terraform_remote_state" "net" {\n  backend = "local"\n}\n'
    )
    assert check(tmp_path, {"app/main.tf": main}) == []


def test_an_unknown_provider_is_refused_where_it_is_first_named(tmp_path):
    files = {
        "app/main.tf": REQUIRES_AWS.replace(
            '    aws = {\n      source = "hashicorp/aws"\n    }\n',
            '    aws = {\n      source = "hashicorp/aws"\n    }\n    evil = {\n      source = "attacker/evil"\n    }\n',
        ) + '\nresource "evil_thing" "x" {}\n',
        "app/google.tf": 'provider "google" {\n  project = "p"\n}\n\nresource "google_storage_bucket" "b" {}\n',
        "app/implied.tf": 'resource "random_id" "x" {\n  byte_length = 4\n}\n',
        "app/aliased.tf": 'resource "aws_s3_bucket" "y" {\n  provider = mirror.west\n}\n',
    }
    found = check(tmp_path, files)
    assert where(found) == [
        ("provider", "app/aliased.tf", 1),  # the `provider` meta-argument names mirror, i.e. hashicorp/mirror
        ("provider", "app/google.tf", 1),  # the provider block, not again for each of its resources
        ("provider", "app/implied.tf", 1),  # random_id implies hashicorp/random
        ("provider", "app/main.tf", 6),  # the required_providers entry
    ]
    messages = [f.message for f in found]
    assert "registry.terraform.io/hashicorp/mirror is not allowed" in messages[0]
    assert "registry.terraform.io/hashicorp/google is not allowed" in messages[1]
    assert "registry.terraform.io/attacker/evil is not allowed" in messages[3]
    assert f"allowed: {AWS}" in messages[3] and "security.providers" in messages[3]


def test_gitops_yaml_providers_replace_the_lock_file_default_and_take_globs(tmp_path):
    files = {"app/main.tf": 'resource "random_id" "x" {}\nresource "aws_s3_bucket" "b" {}\n'}
    write(tmp_path, files)
    cfg = config(tmp_path, security={"providers": ["hashicorp/random"]})
    assert provider_allowlist(cfg, [AWS]) == {"registry.terraform.io/hashicorp/random", BUILTIN_PROVIDER}
    assert [f.message.split(" is ")[0] for f in static_check(cfg, "app", tmp_path, allowed_providers=[AWS])] == [
        f"provider {AWS}"]
    globbed = config(tmp_path, security={"providers": ["registry.terraform.io/hashicorp/*"]})
    assert static_check(globbed, "app", tmp_path, allowed_providers=[]) == []


def test_providers_in_lock_files_reads_what_terraform_wrote(tmp_path):
    write(tmp_path, {
        "projects/a/.terraform.lock.hcl": LOCK_FILE,
        "projects/b/.terraform.lock.hcl": 'provider "registry.terraform.io/Hashicorp/TLS" {\n  version = "4.0.6"\n}\n',
        "projects/b/.terraform/modules/x/.terraform.lock.hcl": 'provider "registry.terraform.io/x/y" {}\n',
    })
    paths = lock_files_in(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "projects/a/.terraform.lock.hcl", "projects/b/.terraform.lock.hcl"]
    assert providers_in_lock_files([*paths, tmp_path / "projects/c/.terraform.lock.hcl"]) == {
        AWS, "registry.terraform.io/hashicorp/random", "registry.terraform.io/hashicorp/tls"}
    (tmp_path / "broken.hcl").write_text("provider {{{")
    with pytest.raises(ConfigError, match="broken.hcl"):
        providers_in_lock_files([tmp_path / "broken.hcl"])


# -- module sources ------------------------------------------------------------------------------------------
REMOTE = 'module "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n  version = "5.0.0"\n}\n'


def test_a_remote_module_source_is_refused_unless_a_glob_allows_it(tmp_path):
    found = check(tmp_path, {"app/main.tf": "# the network\n" + REMOTE})
    assert where(found) == [("module-source", "app/main.tf", 3)]
    assert "'terraform-aws-modules/vpc/aws'" in found[0].message and "security.module_sources" in found[0].message
    for glob in ("terraform-aws-modules/*", "registry.terraform.io/terraform-aws-modules/*"):
        assert static_check(config(tmp_path, security={"module_sources": [glob]}), "app", tmp_path,
                            allowed_providers=[AWS]) == [], glob
    assert len(static_check(config(tmp_path, security={"module_sources": ["git::https://github.com/acme/*"]}),
                            "app", tmp_path, allowed_providers=[AWS])) == 1


def test_release_tags_of_this_repositorys_modules_are_allowed_and_nothing_else_of_it(tmp_path):
    sources = {
        "tag": "git::https://github.com/acme/infra.git//modules/bucket?ref=bucket-v1.2.0",
        "ssh": "git@github.com:acme/infra.git//modules/bucket?ref=bucket-v1.2.0",
        "branch": "git::https://github.com/acme/infra.git//modules/bucket?ref=feature",
        "wrong_path": "git::https://github.com/acme/infra.git//modules/evil?ref=bucket-v1.2.0",
        "other_repo": "git::https://github.com/mallory/infra.git//modules/bucket?ref=bucket-v1.2.0",
    }
    main = "".join(f'module "{name}" {{\n  source = "{source}"\n}}\n' for name, source in sources.items())
    write(tmp_path, {"app/main.tf": main, "modules/bucket/main.tf": ""})
    units = (("app", "project", "app"), ("bucket", "module", "modules/bucket"))
    cfg = config(tmp_path, units, github={"repository": "acme/infra"})
    found = static_check(cfg, "app", tmp_path, allowed_providers=[AWS])
    assert where(found) == [("module-source", "app/main.tf", n) for n in (8, 11, 14)]
    no_github = static_check(config(tmp_path, units), "app", tmp_path, allowed_providers=[AWS])
    assert len(no_github) == 5, "without github.repository no source is this repository's"


def test_a_local_module_outside_the_repository_is_refused_and_not_followed(tmp_path):
    repo = tmp_path / "repo"
    write(tmp_path, {"outside/main.tf": 'data "external" "x" {\n  program = ["id"]\n}\n'})
    found = check(repo, {"app/main.tf": 'module "escape" {\n  source = "../../outside"\n}\n'})
    assert where(found) == [("module-source", "app/main.tf", 2)]
    assert "outside the repository" in found[0].message


# -- test files, unreadable files, plugin folders ----------------------------------------------------------
def test_the_units_own_test_files_are_checked(tmp_path):
    files = {
        "app/main.tf": REQUIRES_AWS,
        "app/tests/basic.tftest.hcl": 'provider "aws" {\n  region = "us-east-1"\n}\n\n'
                                      'run "setup" {\n  module {\n    source = "./tests/setup"\n  }\n}\n\n'
                                      'run "remote" {\n  module {\n    source = "mallory/evil/aws"\n  }\n}\n',
        "app/tests/setup/main.tf": 'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n'
                                   '    command = "id"\n  }\n}\n',
    }
    found = check(tmp_path, files)
    assert where(found) == [("module-source", "app/tests/basic.tftest.hcl", 13),
                            ("provisioner", "app/tests/setup/main.tf", 2)]


def test_a_file_the_check_cannot_read_is_refused_with_its_line(tmp_path):
    found = check(tmp_path, {"app/main.tf": REQUIRES_AWS, "app/broken.tf": 'locals {\n  a = 1\n  b =\n}\n',
                             "app/broken.tf.json": '{\n  "data": \n}\n'})
    assert where(found) == [("unreadable", "app/broken.tf", 3), ("unreadable", "app/broken.tf.json", 3)]
    assert "cannot vouch for it" in found[0].message


def test_a_terraform_d_plugin_folder_is_refused(tmp_path):
    plugin = "app/terraform.d/plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64/terraform-provider-aws"
    found = check(tmp_path, {"app/main.tf": REQUIRES_AWS, plugin: "#!/bin/sh\nid\n"})
    assert where(found) == [("plugin-dir", plugin, 1)]


# -- the refusal and the PR annotations ------------------------------------------------------------------------
def test_enforce_raises_with_every_finding_and_what_to_do(tmp_path):
    write(tmp_path, {"app/main.tf": 'data "external" "x" {\n  program = ["id"]\n}\n'})
    cfg = config(tmp_path)
    with pytest.raises(CodeRefused) as refused:
        enforce_static_check(cfg, "app", tmp_path, allowed_providers=[AWS])
    error = refused.value
    assert error.exit_code == 3 and error.unit == "app" and len(error.findings) == 2
    text = str(error)
    assert text.startswith("unit app: the static check refused its code before Terraform ran it (2 findings):")
    assert "\n  app/main.tf:1: data \"external\" \"x\" runs a program" in text
    assert "\n  app/main.tf:1: provider registry.terraform.io/hashicorp/external is not allowed" in text
    assert text.endswith("ask the rules owners to allow it in gitops.yaml on main "
                         "(security: providers, module_sources, allow_provisioners).")

    (annotation, _) = check_annotations(error.findings, path_prefix="infra/")
    assert annotation == {"path": "infra/app/main.tf", "start_line": 1, "end_line": 1, "annotation_level": "failure",
                          "title": "static check: external-data", "message": error.findings[0].message}
    (tmp_path / "app/main.tf").write_text(REQUIRES_AWS)
    assert enforce_static_check(cfg, "app", tmp_path, allowed_providers=[AWS]) == []


def test_the_sample_infrastructure_passes_with_the_providers_of_its_lock_file(tmp_path):
    cfg = load_config(SAMPLE_INFRA / "gitops.yaml", environ=_EveryVariable())
    (tmp_path / ".terraform.lock.hcl").write_text(LOCK_FILE)
    allowed = providers_in_lock_files([tmp_path / ".terraform.lock.hcl"])
    for unit in cfg.units:
        assert static_check(cfg, unit, SAMPLE_INFRA, allowed_providers=allowed) == [], unit.name
    assert static_check(cfg, "storage", SAMPLE_INFRA, allowed_providers=[]) != [], "aws needs allowing"


class _EveryVariable(dict):
    """An environment where every `${VAR}` of gitops.yaml is set: only the units matter here."""

    def __contains__(self, name: object) -> bool:
        return True

    def __missing__(self, name: str) -> str:
        return "x"


def test_gitops_yaml_takes_the_security_settings(tmp_path):
    write(tmp_path, {"app/main.tf": ""})
    (tmp_path / "gitops.yaml").write_text(
        "environments: [{name: test}]\nunits: [{name: app, kind: project, path: app}]\n"
        "security:\n  providers: [hashicorp/aws]\n  module_sources: ['git::https://github.com/acme/*']\n"
        "  allow_provisioners: {app: [local-exec]}\n")
    cfg = load_config(tmp_path / "gitops.yaml")
    assert cfg.security.allow_provisioners == {"app": ["local-exec"]}
    (tmp_path / "gitops.yaml").write_text(
        "environments: [{name: test}]\nunits: [{name: app, kind: project, path: app}]\n"
        "security:\n  allow_provisioners: {app: [shell]}\n")
    with pytest.raises(ConfigError, match="security.allow_provisioners"):
        load_config(tmp_path / "gitops.yaml")
