"""Run tags that carry a change's facts into a run; the GitHub sensors set them on their run requests."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gitops_pipelines.core.promotion.commits import ChangeCommits, change_commits

HEAD_SHA = "gitops/head_sha"
BASE_SHA = "gitops/base_sha"
TRIGGERED_BY = "gitops/triggered_by"
MERGE_SHA = "gitops/merge_sha"


def change_tags(head_sha: str | None = None, base_sha: str | None = None, triggered_by: str | None = None,
                merge_sha: str | None = None) -> dict[str, str]:
    """Tags for a run request about one change."""
    tags = {HEAD_SHA: head_sha, BASE_SHA: base_sha, TRIGGERED_BY: triggered_by, MERGE_SHA: merge_sha}
    return {k: v for k, v in tags.items() if v}


def tag(context: dg.AssetExecutionContext, name: str) -> str | None:
    return context.run.tags.get(name) or None


def run_commits(context: dg.AssetExecutionContext, github: Any) -> ChangeCommits:
    """The change's commits: the sensor's tags, else the pull request on GitHub (a run launched from the UI)."""

    def pull(number: int):
        gateway = github.gateway(context.log.debug)
        try:
            return gateway.pull(number)
        finally:
            gateway.close()

    return change_commits(context.partition_key, head_sha=tag(context, HEAD_SHA), merge_sha=tag(context, MERGE_SHA),
                          base_sha=tag(context, BASE_SHA), pull=pull if github is not None else None)


def triggered_by(context: dg.AssetExecutionContext) -> str:
    """Who or what started the run: the sensor's tag, the UI user's tag, else the run itself."""
    tags = context.run.tags
    return tags.get(TRIGGERED_BY) or tags.get("dagster/user") or f"dagster run {context.run.run_id[:8]}"
