"""A module change: its PR checks run for real (terraform test on moto), then release records the next version."""

from __future__ import annotations

import subprocess

import dagster as dg
import pytest

from gitops_pipelines.defs.run_tags import change_tags
from gitops_pipelines_dev.infra import git
from gitops_pipelines_tests.dagster.conftest import failure_messages, latest_metadata

pytestmark = pytest.mark.slow

IDENT = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
BUCKET = ["bucket/syntax", "bucket/ephemeral_test", "bucket/release"]


def test_module_release_needs_passed_checks_and_records_next_version(gitops_defs, instance, infra_root, clouds):
    # an earlier release, on a commit of its own (the session's shared repository: removed again below)
    earlier = git(infra_root, *IDENT, "commit-tree", "HEAD^{tree}", "-m", "bucket 1.2.3")
    git(infra_root, "tag", "-f", "bucket/v1.2.3", earlier)
    try:
        _release_flow(gitops_defs, instance, git(infra_root, "rev-parse", "HEAD"))
        # without a github: section the release is a local tag on the commit the checks ran on
        assert git(infra_root, "rev-list", "-n1", "bucket/v1.3.0") == git(infra_root, "rev-parse", "HEAD")
    finally:
        git(infra_root, "tag", "-d", "bucket/v1.2.3")
        subprocess.run(["git", "tag", "-d", "bucket/v1.3.0"], cwd=infra_root, capture_output=True)


def _release_flow(gitops_defs, instance, head: str) -> None:
    instance.add_dynamic_partitions("changes", ["pr-7"])
    job = gitops_defs.resolve_job_def("release")
    tags = change_tags(head_sha=head, merge_sha=head)  # one commit: the PR head is also the merged commit

    early = job.execute_in_process(instance=instance, partition_key="pr-7", raise_on_error=False, tags=tags,
                                   asset_selection=[dg.AssetKey(["bucket", "release"])])
    assert not early.success
    why = failure_messages(early)
    assert "bucket/release: pr-7 may not be applied" in why, why
    assert "syntax has not run for pr-7" in why and "ephemeral_test has not run for pr-7" in why

    everything = dg.materialize(
        [gitops_defs.resolve_assets_def(dg.AssetKey(k.split("/"))) for k in BUCKET], instance=instance,
        partition_key="pr-7", tags=tags,
        run_config={"ops": {"bucket__release": {"config": {"bump": "minor", "reason": "new input"}}}})
    assert everything.success
    assert "passed" in latest_metadata(instance, "bucket/ephemeral_test", "pr-7")["result"]
    release = latest_metadata(instance, "bucket/release", "pr-7")
    assert release["version"] == "1.3.0" and release["tag"] == "bucket/v1.3.0"
    assert release["previous"] == "bucket/v1.2.3"
    assert release["bump"] == "minor" and release["approved_by"] == "merge"
    # the release says who uses the module: the storage project still pins the first release
    assert release["consumers_behind"] == 1
    assert "| `storage` | `artifacts` | `bucket/v0.1.0` | behind |" in release["consumers"]
