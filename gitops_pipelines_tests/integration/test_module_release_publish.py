"""A module release is a git tag and a published GitHub Release (or a local tag when GitHub is not configured)."""

from __future__ import annotations

import subprocess

from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.promotion import next_module_release, publish_module_release
from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.github_emulator.openapi_check import check
from gitops_pipelines_tests.fixtures.infra_repo import git, make_infra_repo
from gitops_pipelines_tests.integration.test_github_gateway import gateway


def test_release_on_github_follows_existing_tags_and_is_safe_to_repeat(cloud_env, tmp_path, github_contract):
    repo = make_infra_repo(tmp_path / "repo")
    config = load_config(repo / "gitops.yaml")
    with Emulator(github_contract) as emu:
        emu.create_repo("acme", "infra", {"modules/bucket/main.tf": "# bucket\n"})
        first = emu.commit("main", {"modules/bucket/variables.tf": "# v1\n"}, "feat: first")
        gw = gateway(emu)
        gw.create_tag("bucket-v1.4.2", first)
        merged = emu.commit("main", {"modules/bucket/outputs.tf": "# v2\n"}, "feat: outputs")

        release = next_module_release(config, config.unit("bucket"), bump="minor", tags=[t.name for t in gw.tags()])
        assert (release.tag, release.previous) == ("bucket-v1.5.0", "1.4.2")
        url = publish_module_release(release, merged, change="pr-12", repo=repo, gateway=gw,
                                     repository="acme/infra", module_path="modules/bucket")
        again = publish_module_release(release, merged, change="pr-12", repo=repo, gateway=gw,
                                       repository="acme/infra", module_path="modules/bucket")

        assert url and again == url
        assert {t.name: t.sha for t in gw.tags()}["bucket-v1.5.0"] == merged
        published = [r for r in emu.repo.releases.values() if r.tag_name == "bucket-v1.5.0"]
        assert len(published) == 1, "a repeated release does not publish twice"
        assert not check(emu.exchanges, emu.contract).failures


def test_without_github_the_release_is_a_local_tag(cloud_env, tmp_path):
    repo = make_infra_repo(tmp_path / "repo")
    config = load_config(repo / "gitops.yaml")
    head = git(repo, "rev-parse", "HEAD")
    release = next_module_release(config, config.unit("bucket"), bump="patch")
    assert release.tag == "bucket-v0.1.0"
    assert publish_module_release(release, head, change="pr-3", repo=repo) is None
    assert git(repo, "rev-list", "-n1", "bucket-v0.1.0") == head
    publish_module_release(release, head, change="pr-3", repo=repo)  # a rerun is harmless
    assert next_module_release(config, config.unit("bucket"), bump="patch").tag == "bucket-v0.1.1"
    subprocess.run(["git", "tag", "-d", "bucket-v0.1.0"], cwd=repo, check=True, capture_output=True)
