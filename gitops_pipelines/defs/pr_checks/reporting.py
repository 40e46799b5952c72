"""What a PR stage asset says on GitHub while it runs: one context manager around the core use case."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from gitops_pipelines.core import pr_feedback
from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.defs.run_tags import HEAD_SHA, tag
from gitops_pipelines.resources.github import GitHubResource


@contextmanager
def reporting(context: dg.AssetExecutionContext, github: GitHubResource | None, config: GitopsConfig, unit: str,
              stage: str) -> Iterator[Callable[[Any], None]]:
    """Marks the stage's check run in progress, yields `report(result)`; a stage that raises before reporting
    fails its check with the error. No `github` resource, or a partition that is not a PR: nothing is published.
    A GitHub outage is logged, never fails the stage (re-execute the step to publish again)."""
    change = context.partition_key if context.has_partition_key else ""
    if github is None or pr_feedback.pr_number(change) is None:
        yield lambda result: None
        return
    reported: list[bool] = []

    def safely(what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - feedback must never break the stage
            context.log.warning(f"{unit}/{stage}: could not {what} on GitHub: {exc}")
            return None

    gateway = safely("connect", lambda: github.gateway(context.log.debug))
    if gateway is None:
        yield lambda result: None
        return
    head = tag(context, HEAD_SHA)
    if head is None:
        pull = safely("read the pull request", lambda: gateway.pull(pr_feedback.pr_number(change)))
        head = pull.head_sha if pull else None
    if head is None:
        yield lambda result: None
        return
    safely("start the check run", lambda: pr_feedback.start(gateway, head, unit, stage))
    if stage == "syntax":
        safely("run the work_item check", lambda: pr_feedback.work_item(gateway, config, change))

    def report(result: Any) -> None:
        reported.append(True)
        ids = safely("publish the result",
                     lambda: pr_feedback.publish(gateway, config, change, head, unit, stage, result))
        if ids:
            context.log.info(f"{unit}/{stage}: plan comment {ids[0]} on #{pr_feedback.pr_number(change)} updated")

    try:
        yield report
    except BaseException as exc:
        if not reported:
            message = getattr(exc, "description", None) or str(exc) or type(exc).__name__
            safely("fail the check run", lambda: pr_feedback.fail(gateway, head, unit, stage, message))
        raise
    finally:
        gateway.close()
