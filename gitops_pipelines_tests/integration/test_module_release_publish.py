"""Releases on the GitHub emulator with real git: each module of a repository that holds several is versioned on its
own (`<module>/v<semver>` annotated tags and GitHub Releases), its bump read from the pull requests merged since
its last release; a tag that already exists elsewhere is refused with nothing moved. Without GitHub a release is
a local annotated tag."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.github.errors import GitHubError
from gitops_pipelines.core.promotion import plan_release, prepare_release, publish_release
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_tests.fixtures.infra_repo import git, make_infra_repo
from gitops_pipelines_tests.integration.test_github_gateway import assert_contract, gateway

GITOPS = """environments:
  - name: test
units:
  - {name: bucket, kind: module, path: modules/bucket}
  - {name: network, kind: module, path: modules/network}
github:
  repository: acme/infra
"""


class Repo:
    """The emulator's repository as a developer and the release step see it."""

    def __init__(self, emu: Emulator, clone: Path):
        self.emu, self.clone, self.gw = emu, clone, gateway(emu)

    def merge_pr(self, branch: str, path: str, title: str, *, body: str = "", labels=()) -> str:
        self.emu.commit(branch, {path: f"# {title}\n"}, title)
        number = self.emu.open_pull(branch, title, body)
        if labels:
            self.emu.repo.set_labels(number, list(labels))
        return self.emu.merge(number)

    def release(self, unit: str, sha: str):
        git(self.clone, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
        config = load_config(self.clone / "gitops.yaml")
        release = prepare_release(config, config.unit(unit), sha, repo=self.clone, gateway=self.gw)
        return publish_release(release, sha, repo=self.clone, gateway=self.gw, repository="acme/infra",
                               unit_path=config.unit(unit).path)

    def notes(self, tag: str) -> str:
        return next(r.body for r in self.emu.repo.releases.values() if r.tag_name == tag)


@pytest.fixture
def repo(tmp_path, github_contract):
    with Emulator(github_contract) as emu:
        emu.create_repo("acme", "infra", {"gitops.yaml": GITOPS, "modules/bucket/main.tf": "# bucket\n",
                                          "modules/network/main.tf": "# network\n"})
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", str(emu.git_dir), str(clone)], check=True)
        yield Repo(emu, clone)


def test_modules_release_on_their_own_with_the_bump_their_pull_requests_ask_for(repo):
    issue = repo.emu.create_issue("Buckets need lifecycle rules")
    first = repo.merge_pr("lifecycle", "modules/bucket/lifecycle.tf", "feat(bucket): lifecycle rules",
                          body=f"Fixes #{issue}")
    released = repo.release("bucket", first)
    assert (released.tag, released.previous_tag) == ("bucket/v0.1.0", None)
    notes = repo.notes("bucket/v0.1.0")
    assert "The first release." in notes and "(#2)" in notes and f"closes #{issue}" in notes
    assert 'source = "git::https://github.com/acme/infra.git//modules/bucket?ref=bucket/v0.1.0"' in notes
    assert released.url.endswith("/releases/tag/bucket/v0.1.0")

    fix = repo.merge_pr("tags", "modules/bucket/tags.tf", "fix(bucket): tag every object")
    assert repo.release("bucket", fix).tag == "bucket/v0.1.1"
    notes = repo.notes("bucket/v0.1.1")
    assert "A **patch** release" in notes and "(#3)" in notes and "(#2)" not in notes  # only what is new
    assert "compare/bucket/v0.1.0...bucket/v0.1.1" in notes

    breaking = repo.merge_pr("rename", "modules/bucket/inputs.tf", "Rename the acl input",
                             labels=["release:major", "release:patch"])
    assert repo.release("bucket", breaking).tag == "bucket/v1.0.0"
    assert "Conflicting labels: #4 is labelled release:patch, release:major: the highest, major" in repo.notes(
        "bucket/v1.0.0")

    # the other module of the repository has its own versions; the bucket's pull requests are not its own
    network = repo.merge_pr("vpc", "modules/network/vpc.tf", "feat: a VPC")
    assert repo.release("network", network).tag == "network/v0.1.0"
    assert "(#5)" in repo.notes("network/v0.1.0") and "(#4)" not in repo.notes("network/v0.1.0")

    # annotated tags on the merge commits, as a git client fetching them sees
    git(repo.clone, "fetch", "-q", "--tags", "origin")
    assert git(repo.clone, "cat-file", "-t", "bucket/v1.0.0") == "tag"
    assert git(repo.clone, "rev-list", "-n1", "bucket/v1.0.0") == breaking
    assert "major" in git(repo.clone, "tag", "-l", "--format=%(contents)", "bucket/v1.0.0")

    # a re-run of a release is the same release: no second tag, no second Release
    assert repo.release("bucket", breaking).existing
    assert sum(r.tag_name.startswith("bucket/") for r in repo.emu.repo.releases.values()) == 3
    assert_contract(repo.emu)


def test_a_tag_made_meanwhile_at_another_commit_is_refused_and_nothing_moves(repo):
    sha = repo.merge_pr("lifecycle", "modules/bucket/lifecycle.tf", "feat: lifecycle")
    config = load_config(repo.clone / "gitops.yaml")
    release = plan_release(config, config.unit("bucket"), {}, sha)
    other = repo.emu.repo.git.resolve("refs/heads/main~1")
    repo.gw.create_tag(release.tag, other)  # someone else's release run, between the listing and the tag
    with pytest.raises(GitHubError, match="already exists at .*nothing was moved"):
        publish_release(release, sha, repo=repo.clone, gateway=repo.gw, repository="acme/infra")
    assert {t.name: t.sha for t in repo.gw.tags()}[release.tag] == other
    assert not repo.emu.repo.releases, "no Release for a tag that is not ours"


def test_without_github_the_release_is_a_local_annotated_tag(cloud_env, tmp_path):
    root = make_infra_repo(tmp_path / "repo")
    config = load_config(root / "gitops.yaml")
    head = git(root, "rev-parse", "HEAD")
    release = prepare_release(config, config.unit("bucket"), head, repo=root)
    assert release.tag == "bucket/v0.1.0" and publish_release(release, head, repo=root).url == ""
    assert git(root, "cat-file", "-t", "bucket/v0.1.0") == "tag" and git(root, "rev-list", "-n1", "bucket/v0.1.0") == head
    assert prepare_release(config, config.unit("bucket"), head, repo=root).existing  # a rerun is the same release
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m",
        "fix: later")
    later = git(root, "rev-parse", "HEAD")
    assert prepare_release(config, config.unit("bucket"), later, repo=root).tag == "bucket/v0.1.1"


def test_a_repository_github_does_not_have_is_named_with_what_to_check(repo):
    config = load_config(repo.clone / "gitops.yaml")
    head = git(repo.clone, "rev-parse", "HEAD")
    with pytest.raises(GitHubError, match="acme/missing.*check the repository name and the token's access"):
        prepare_release(config, config.unit("bucket"), head, repo=repo.clone,
                        gateway=gateway(repo.emu, repository="acme/missing"))
    assert not repo.emu.repo.releases and not [t for t in repo.gw.tags() if t.name.startswith("bucket/")]
