"""What a PR stage asset says on GitHub while it runs: one context manager around the core use case."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.github import reporter
from gitops_pipelines.core.vocabulary import SYNTAX, Stage, pr_number
from gitops_pipelines.resources.github import GitHubResource


class StageReport:
    """`report(result)` publishes a stage's result; `work_item` is the work-item check's conclusion (syntax runs it)."""

    def __init__(self, publish: Callable[[Any], None] | None = None):
        self._publish = publish
        self.reported = False
        self.work_item: str | None = None

    def __call__(self, result: Any) -> None:
        self.reported = True
        if self._publish is not None:
            self._publish(result)


@contextmanager
def reporting(context: dg.AssetExecutionContext, github: GitHubResource | None, config: GitopsConfig, unit: str,
              stage: Stage, head: str) -> Iterator[StageReport]:
    """Marks the stage's check run in progress, yields a StageReport; a stage that raises before reporting
    fails its check with the error. No `github` resource, or a partition that is not a PR: nothing is published.
    A GitHub outage is logged, never fails the stage (re-execute the step to publish again)."""
    change = context.partition_key if context.has_partition_key else ""
    if github is None or pr_number(change) is None:
        yield StageReport()
        return

    def safely(what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - feedback must never break the stage
            context.log.warning(f"{unit}/{stage}: could not {what} on GitHub: {exc}")
            return None

    gateway = safely("connect", lambda: github.gateway(context.log.debug))
    if gateway is None:
        yield StageReport()
        return
    safely("start the check run", lambda: reporter.start(gateway, head, unit, stage))

    def publish(result: Any) -> None:
        ids = safely("publish the result",
                     lambda: reporter.publish(gateway, config, change, head, unit, stage, result))
        if ids:
            context.log.info(f"{unit}/{stage}: plan comment {ids[0]} on #{pr_number(change)} updated")

    report = StageReport(publish)
    if stage.kind == SYNTAX:
        report.work_item = safely("run the work_item check", lambda: reporter.work_item(gateway, config, change))
    try:
        yield report
    except BaseException as exc:
        if not report.reported:
            message = getattr(exc, "description", None) or str(exc) or type(exc).__name__
            safely("fail the check run", lambda: reporter.fail(gateway, head, unit, stage, message))
        raise
    finally:
        gateway.close()
