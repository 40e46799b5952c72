"""Run tags that carry a change's facts into a run; the GitHub sensors set them on their run requests."""

from __future__ import annotations

import dagster as dg

HEAD_SHA = "gitops/head_sha"
BASE_SHA = "gitops/base_sha"
TRIGGERED_BY = "gitops/triggered_by"
MERGE_SHA = "gitops/merge_sha"


def change_tags(head_sha: str | None = None, base_sha: str | None = None,
                triggered_by: str | None = None) -> dict[str, str]:
    """Tags for a run request about one change."""
    tags = {HEAD_SHA: head_sha, BASE_SHA: base_sha, TRIGGERED_BY: triggered_by}
    return {k: v for k, v in tags.items() if v}


def tag(context: dg.AssetExecutionContext, name: str) -> str | None:
    return context.run.tags.get(name) or None


def bound_commit(context: dg.AssetExecutionContext) -> str | None:
    """The commit a run's stages must run on: the merge commit after a merge, else the pull request's head."""
    return tag(context, MERGE_SHA) or tag(context, HEAD_SHA)


def triggered_by(context: dg.AssetExecutionContext) -> str:
    """Who or what started the run: the sensor's tag, the UI user's tag, else the run itself."""
    tags = context.run.tags
    return tags.get(TRIGGERED_BY) or tags.get("dagster/user") or f"dagster run {context.run.run_id[:8]}"
