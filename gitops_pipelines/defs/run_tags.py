"""Run tags that carry a change's facts into a run; the GitHub sensors set them on their run requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg

from gitops_pipelines.core.checkout import at_commit
from gitops_pipelines.core.config import load_config
from gitops_pipelines.core.errors import PlanRefused
from gitops_pipelines.core.promotion.commits import ChangeCommits, change_commits, untrusted
from gitops_pipelines.core.vocabulary import Stage
from gitops_pipelines.defs.refusals import refusals

HEAD_SHA = "gitops/head_sha"
BASE_SHA = "gitops/base_sha"
TRIGGERED_BY = "gitops/triggered_by"
MERGE_SHA = "gitops/merge_sha"
FORK = "gitops/fork"  # "true" when the head is in another repository than the base
BASE_REF = "gitops/base_ref"  # the branch the pull request merges into


def change_tags(head_sha: str | None = None, base_sha: str | None = None, triggered_by: str | None = None,
                merge_sha: str | None = None, *, fork: bool | None = None,
                base_ref: str | None = None) -> dict[str, str]:
    """Tags for a run request about one change."""
    tags = {HEAD_SHA: head_sha, BASE_SHA: base_sha, TRIGGERED_BY: triggered_by, MERGE_SHA: merge_sha,
            FORK: None if fork is None else str(fork).lower(), BASE_REF: base_ref}
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

    fork = tag(context, FORK)
    return change_commits(context.partition_key, head_sha=tag(context, HEAD_SHA), merge_sha=tag(context, MERGE_SHA),
                          base_sha=tag(context, BASE_SHA), fork=None if fork is None else fork.lower() == "true",
                          base_ref=tag(context, BASE_REF), pull=pull if github is not None else None)


def refuse_untrusted(context: dg.AssetExecutionContext, github: Any, gitops: Any, unit: str, stage: Stage,
                     commits: ChangeCommits) -> None:
    """Before any checkout of the head: a fork's pull request (unless main's gitops.yaml sets
    `github.allow_fork_prs`) fails the stage, and its check run on the head says why. Nothing else is touched."""
    if not commits.fork:
        return
    # pr_checks' package imports this module: importing its reporting at the top would be circular
    from gitops_pipelines.defs.pr_checks.reporting import reporting  # noqa: PLC0415

    with refusals():
        rules = _main_rules(gitops)
    reason = untrusted(commits, rules)
    if reason is None:
        context.log.warning(f"{commits.change} comes from a fork; github.allow_fork_prs lets its code run")
        return
    context.log.error(reason)
    with reporting(context, github, rules, unit, stage, commits.head_sha), refusals():
        raise PlanRefused(reason)


def _main_rules(gitops: Any):
    """gitops.yaml as the tip of main has it (the working copy's without a main branch): the head's own copy
    could allow itself."""
    commit = gitops.rules_commit()
    return load_config(at_commit(Path(gitops.config_path), commit)) if commit else gitops.load_config()


def triggered_by(context: dg.AssetExecutionContext) -> str:
    """Who or what started the run: the sensor's tag, the UI user's tag, else the run itself."""
    tags = context.run.tags
    return tags.get(TRIGGERED_BY) or tags.get("dagster/user") or f"dagster run {context.run.run_id[:8]}"
