"""What a PR stage asset says on GitHub while it runs: one context manager around the core use case."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.github import reporter
from gitops_pipelines.core.github.module_refs_check import publish_module_refs
from gitops_pipelines.core.github.rules_check import publish_rules_check
from gitops_pipelines.core.vocabulary import SYNTAX, Stage, pr_number
from gitops_pipelines.defs.github_session import GitHubSession
from gitops_pipelines.resources.github import GitHubResource


class StageReport:
    """`report(result)` publishes a stage's result; `work_item` is the work-item check's conclusion (syntax runs it)."""

    def __init__(self, publish: Callable[[Any], None] | None = None,
                 rules: Callable[[str | None], None] | None = None,
                 module_refs: Callable[[Any], None] | None = None):
        self._publish, self._rules, self._module_refs = publish, rules, module_refs
        self.reported = False
        self.work_item: str | None = None

    def rules(self, diff: str | None) -> None:
        """Mark on the head whether this change edits the rules it is judged by (the `rules` check)."""
        if self._rules is not None:
            self._rules(diff)

    def module_refs(self, result: Any) -> None:
        """Conclude the `module_refs` check run of the head (syntax runs it)."""
        if self._module_refs is not None:
            self._module_refs(result)

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
    session = GitHubSession(context, github, f"{unit}/{stage}")
    gateway, safely = session.gateway, session.safely
    if gateway is None:
        yield StageReport()
        return
    safely("start the check run", lambda: reporter.start(gateway, head, unit, stage))

    def publish(result: Any) -> None:
        ids = safely("publish the result",
                     lambda: reporter.publish(gateway, config, change, head, unit, stage, result))
        if ids:
            context.log.info(f"{unit}/{stage}: plan comment {ids[0]} on #{pr_number(change)} updated")

    def rules(diff: str | None) -> None:
        owners = config.rules_owners
        safely("publish the rules check", lambda: publish_rules_check(gateway, head, diff, owners))

    def module_refs(result: Any) -> None:
        safely("publish the module_refs check", lambda: publish_module_refs(gateway, head, result))

    report = StageReport(publish, rules, module_refs)
    if stage.kind == SYNTAX:
        report.work_item = safely("run the work_item check", lambda: reporter.work_item(gateway, config, change))
    try:
        yield report
    except BaseException as exc:
        if not report.reported:
            message = getattr(exc, "description", None) or str(exc) or type(exc).__name__
            output = getattr(exc, "output", None) or ""
            safely("fail the check run", lambda: reporter.fail(gateway, head, unit, stage, message, config=config,
                                                               output=output))
        raise
    finally:
        session.close()
