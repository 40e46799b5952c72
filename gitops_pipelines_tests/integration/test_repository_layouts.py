"""The mixed layout with real git and Terraform: a modules repository (acme/modules) and a projects repository
(acme/projects), each with its own gitops.yaml, served by the GitHub emulator. Projects pin the module's release
tag of the other repository (checked, and initialised offline); the module's consumers are listed across
repositories, and its bump pull requests open in the projects repository."""

from __future__ import annotations

import json
import subprocess
from contextlib import contextmanager

import pytest

from gitops_pipelines.core.changes.consumers import module_consumers, repository_tags
from gitops_pipelines.core.changes.pinning import check_module_refs, git_remote_refs
from gitops_pipelines.core.changes.repositories import RepositoryUnreadable, other_mains, read_main
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.promotion.consumer_bumps import OtherRepository, bump_consumers
from gitops_pipelines.core.security.allowlists import module_source_allowed
from gitops_pipelines.core.changes.detection import module_refs
from gitops_pipelines.core.changes.versioning import tag_format
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.github_emulator.openapi_check import check
from gitops_pipelines_dev.infra import (MODULES_REPOSITORY, PROJECTS_REPOSITORY, git, github_url, mixed_layout,
                                        release_tag, serve_repositories)
from gitops_pipelines_tests.integration.test_github_gateway import gateway


@pytest.fixture
def layout(github_contract, cloud_env, tmp_path):
    """The emulator serving both repositories (module released as bucket/v0.1.0), a git config mapping their
    github.com URLs to it, and a working copy of each as its code location has it."""
    with serve(github_contract, cloud_env, tmp_path, mixed_layout(), {MODULES_REPOSITORY: "bucket/v0.1.0"}) as served:
        yield served


@contextmanager
def serve(contract, cloud_env, tmp_path, repositories: dict[str, dict[str, str]], releases: dict[str, str]):
    with Emulator(contract) as emu:
        repos, clones = {}, {}
        for name, files in repositories.items():
            owner, short = name.split("/")
            repos[name] = emu.create_repo(owner, short, files)
        for name, tag in releases.items():
            release_tag(repos[name].git.path, tag)
        git_config = serve_repositories({github_url(n): r.git.path for n, r in repos.items()}, tmp_path / "gitconfig")
        env = {**cloud_env, "GITOPS_GIT_CONFIG": str(git_config), "GITHUB_API_URL": emu.base_url}
        for name, repo in repos.items():
            clones[name] = tmp_path / name.replace("/", "__")
            subprocess.run(["git", "clone", "-q", str(repo.git.path), str(clones[name])], check=True)
        yield Layout(emu, repos, clones, env)
        report = check(emu.exchanges, emu.contract)
        assert not report.failures, report.summary()


class Layout:
    def __init__(self, emulator, repos, clones, env):
        self.emulator, self.repos, self.clones, self.env = emulator, repos, clones, env

    def config(self, name: str, text: str | None = None):
        path = self.clones[name] / "gitops.yaml"
        if text is not None:
            path.write_text(text)
        return load_config(path, environ=self.env)


def test_each_repository_declares_its_own_units_and_names_the_other(layout):
    modules, projects = layout.config(MODULES_REPOSITORY), layout.config(PROJECTS_REPOSITORY)
    assert [u.name for u in modules.units] == ["bucket"] and modules.environments == []
    assert [u.name for u in projects.projects] == ["storage", "web"]
    assert [r.name for r in modules.repositories] == [PROJECTS_REPOSITORY]
    assert [r.name for r in projects.repositories] == [MODULES_REPOSITORY]


def test_projects_pin_the_other_repositorys_release_and_a_missing_tag_fails(layout):
    config = layout.config(PROJECTS_REPOSITORY)
    root = layout.clones[PROJECTS_REPOSITORY]
    refs = git_remote_refs(config.terraform.git_config)
    for unit in ("storage", "web"):
        result = check_module_refs(config, unit, root, remote_refs=refs)
        assert result.passed, result.findings
        assert [(p.module, p.ref) for p in result.pinned] == [("bucket", "bucket/v0.1.0")]

    main_tf = root / "projects" / "web" / "main.tf"
    main_tf.write_text(main_tf.read_text().replace("bucket/v0.1.0", "bucket/v9.9.9"))
    result = check_module_refs(config, "web", root, remote_refs=git_remote_refs(config.terraform.git_config))
    (finding,) = result.findings
    assert finding.problem == "missing-tag" and finding.file == "projects/web/main.tf"
    assert "bucket/v9.9.9" in finding.message and github_url(MODULES_REPOSITORY) in finding.message
    assert "bucket/v0.1.0" in finding.fix  # the newest release it can pin


def test_only_listed_repositories_release_tags_are_allowed_sources(layout):
    config = layout.config(PROJECTS_REPOSITORY)
    web = layout.clones[PROJECTS_REPOSITORY] / "projects" / "web"
    (ref,) = module_refs(web)
    assert module_source_allowed(ref, config)
    elsewhere = ref.__class__(**{**ref.__dict__, "source": ref.source.replace("acme/modules", "acme/other")})
    assert not module_source_allowed(elsewhere, config), "a repository gitops.yaml does not list"
    branch = ref.__class__(**{**ref.__dict__, "source": ref.source.replace("bucket/v0.1.0", "main"), "ref": "main"})
    assert not module_source_allowed(branch, config), "a branch is no release"


def test_a_project_pinned_to_the_other_repositorys_tag_initialises_offline(layout, tmp_path):
    from gitops_pipelines.core.workspace import Workspace

    config = layout.config(PROJECTS_REPOSITORY)
    ws = Workspace(config)
    web = config.unit_dir(config.unit("web"))
    data_dir = tmp_path / "data"
    ws.runner.init(web, data_dir=data_dir, backend=False)
    manifest = json.loads((data_dir / "modules" / "modules.json").read_text())
    (site,) = [m for m in manifest["Modules"] if m["Key"] == "site"]
    assert "acme/modules.git" in site["Source"] and "ref=bucket/v0.1.0" in site["Source"]
    assert (data_dir / "modules" / "site" / "modules" / "bucket" / "main.tf").is_file()


def test_the_modules_consumers_are_listed_across_repositories(layout):
    config = layout.config(MODULES_REPOSITORY)
    elsewhere = other_mains(config)
    assert [m.name for m in elsewhere] == [PROJECTS_REPOSITORY]
    report = module_consumers(config, "bucket", repository_tags(config), elsewhere=elsewhere)
    assert [(c.where, c.uses, c.behind) for c in report.consumers] == [
        ("acme/projects:storage", "bucket/v0.1.0", False), ("acme/projects:web", "bucket/v0.1.0", False)]

    release_tag(layout.repos[MODULES_REPOSITORY].git.path, "bucket/v0.2.0")
    report = module_consumers(config, "bucket", repository_tags(config), elsewhere=other_mains(config))
    assert report.latest == "bucket/v0.2.0" and len(report.behind) == 2
    assert "acme/projects:web" in report.text() and "BEHIND" in report.text()


def test_the_cli_lists_consumers_in_the_other_repository(layout):
    import os
    import sys

    proc = subprocess.run([sys.executable, "-m", "gitops_pipelines.cli", "modules", "consumers", "bucket", "--config",
                           str(layout.clones[MODULES_REPOSITORY] / "gitops.yaml"), "--json"],
                          capture_output=True, text=True, env={**os.environ, **layout.env})
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert [c["where"] for c in listed["consumers"]] == ["acme/projects:storage", "acme/projects:web"]


def test_a_module_release_opens_its_bump_pull_requests_in_the_projects_repository(layout):
    config = layout.config(MODULES_REPOSITORY)
    modules_git = layout.repos[MODULES_REPOSITORY].git.path
    release_tag(modules_git, "bucket/v0.2.0")
    (projects,) = other_mains(config)
    report = module_consumers(config, "bucket", repository_tags(config), elsewhere=[projects])
    other = OtherRepository(projects, gateway(layout.emulator, PROJECTS_REPOSITORY), config.terraform.git_config)
    head = git(layout.clones[MODULES_REPOSITORY], "rev-parse", "HEAD")

    bumps = bump_consumers(layout.clones[MODULES_REPOSITORY], report, "bucket/v0.2.0", "modules/bucket", head,
                           gateway=gateway(layout.emulator, MODULES_REPOSITORY), elsewhere={PROJECTS_REPOSITORY: other})
    assert [(b.unit, b.files) for b in bumps] == [("acme/projects:storage", ("projects/storage/main.tf",)),
                                                  ("acme/projects:web", ("projects/web/main.tf",))]
    target = layout.repos[PROJECTS_REPOSITORY]
    for bump in bumps:
        pull = target.pull(bump.number)
        assert pull.issue.title.endswith("use bucket bucket/v0.2.0")
        assert "?ref=bucket/v0.2.0" in target.git.show_file(pull.head_sha, bump.files[0])
    assert "?ref=bucket/v0.1.0" in target.git.show_file("main", "projects/web/main.tf"), "main untouched"
    assert not layout.repos[MODULES_REPOSITORY].pulls, "nothing opened in the modules repository"

    again = bump_consumers(layout.clones[MODULES_REPOSITORY], report, "bucket/v0.2.0", "modules/bucket", head,
                           gateway=gateway(layout.emulator, MODULES_REPOSITORY), elsewhere={PROJECTS_REPOSITORY: other})
    assert all(b.number is None and "open already" in b.note for b in again)


def test_a_repository_that_cannot_be_read_is_named_with_what_to_check(layout):
    text = (layout.clones[MODULES_REPOSITORY] / "gitops.yaml").read_text()
    config = layout.config(MODULES_REPOSITORY, text.replace("name: acme/projects", "name: acme/missing"))
    with pytest.raises(RepositoryUnreadable) as caught:
        read_main(config, config.repositories[0])
    message = str(caught.value)
    assert "acme/missing" in message and "https://github.com/acme/missing.git" in message
    assert "terraform.git_config" in message


def one_repository_per_unit() -> dict[str, dict[str, str]]:
    """acme/bucket: the bucket module alone, at the repository's root; acme/projects' web project pins its release
    as `git::https://github.com/acme/bucket.git?ref=v0.1.0` (no folder: the module is the repository)."""
    mixed = mixed_layout()
    module = {path.removeprefix("modules/bucket/"): text for path, text in mixed[MODULES_REPOSITORY].items()
              if path.startswith("modules/bucket/")}
    module["gitops.yaml"] = ("terraform: {git_config: \"${GITOPS_GIT_CONFIG}\"}\ngithub: {repository: acme/bucket, api_url: \"${GITHUB_API_URL}\", "
                             "web_url: https://github.com}\nrepositories: [{name: acme/projects}]\n"
                             "units: [{name: bucket, kind: module, path: .}]\n")
    projects = {path: text.replace("acme/modules", "acme/bucket").replace("//modules/bucket?ref=bucket/v0.1.0",
                                                                          "?ref=v0.1.0")
                for path, text in mixed[PROJECTS_REPOSITORY].items() if not path.startswith("projects/storage/")}
    projects["gitops.yaml"] = projects["gitops.yaml"].replace(
        "  - name: storage\n    kind: project\n    path: projects/storage\n    expect_outputs: [artifacts_bucket]\n", "")
    return {"acme/bucket": module, PROJECTS_REPOSITORY: projects}


def test_one_repository_per_unit_tags_v_version_and_is_consumed_by_that_tag(github_contract, cloud_env, tmp_path):
    with serve(github_contract, cloud_env, tmp_path, one_repository_per_unit(), {"acme/bucket": "v0.1.0"}) as served:
        bucket, projects = served.config("acme/bucket"), served.config(PROJECTS_REPOSITORY)
        assert [u.name for u in projects.units] == ["web"]
        assert tag_format(bucket.releases.tag_format, len(bucket.units)).tag("bucket", "0.2.0") == "v0.2.0"

        result = check_module_refs(projects, "web", served.clones[PROJECTS_REPOSITORY],
                                   remote_refs=git_remote_refs(projects.terraform.git_config))
        assert result.passed, result.findings
        assert [p.ref for p in result.pinned] == ["v0.1.0"]

        report = module_consumers(bucket, "bucket", repository_tags(bucket), elsewhere=other_mains(bucket))
        assert [(c.where, c.uses, c.behind) for c in report.consumers] == [("acme/projects:web", "v0.1.0", False)]
        release_tag(served.repos["acme/bucket"].git.path, "v0.2.0")
        report = module_consumers(bucket, "bucket", repository_tags(bucket), elsewhere=other_mains(bucket))
        assert report.latest == "v0.2.0" and [c.where for c in report.behind] == ["acme/projects:web"]
