"""What a deploy says on GitHub while it runs: a Deployment with its statuses on the commit deployed, the apply
result in the unit+environment comment, and the gate's refusal on the pull request. GitHub being down never fails a
deploy; it is logged (re-execute the step to publish again)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from gitops_pipelines.core.errors import GateRefused
from gitops_pipelines.core.github import deployments
from gitops_pipelines.core.markdown import text
from gitops_pipelines.defs.github_session import GitHubSession


class DeployReport:
    """Told by the deploy asset which plan it applies (`applying`) and what came of it (`applied`)."""

    def __init__(self, start: Callable[[str], None] | None = None, finish: Callable[[bool, str], None] | None = None,
                 wait: Callable[[str, str], None] | None = None):
        self._start, self._finish, self._wait = start, finish, wait
        self.plan_id: str | None = None
        self.finished = False
        self.posted = False  # the refusal is already on the pull request

    def waiting(self, message: str, diff_markdown: str) -> None:
        """A re-plan differs from the approved plan: the diff goes on the pull request, a person decides."""
        self.posted = True
        if self._wait is not None:
            self._wait(message, diff_markdown)

    def applying(self, plan_id: str) -> None:
        self.plan_id = plan_id
        if self._start is not None:
            self._start(plan_id)

    def applied(self, summary: str) -> None:
        self.finished = True
        if self._finish is not None and self.plan_id:
            self._finish(True, summary)


@contextmanager
def deploy_feedback(context: dg.AssetExecutionContext, github: Any, unit: str, environment: str, sha: str,
                    secrets: list[str], production: bool = False) -> Iterator[DeployReport]:
    """Around one deploy of the change's unit to an environment at `sha` (the merge commit)."""
    change = context.partition_key
    session = GitHubSession(context, github, f"{unit}/{environment}")
    gateway, safely, number = session.gateway, session.safely, session.number
    if gateway is None:
        yield DeployReport()
        return
    run_url = github.run_url(context.run.run_id)
    deployment: list[int] = []

    def start(plan_id: str) -> None:
        found = safely("start the deployment", lambda: deployments.start_deploy(
            gateway, sha=sha, unit=unit, environment=environment, change=change, plan_id=plan_id, run_url=run_url,
            production=production))
        deployment[:] = [found] if found else []

    def finish(ok: bool, summary: str) -> None:
        if deployment:
            safely("finish the deployment", lambda: deployments.finish_deploy(
                gateway, deployment[0], ok=ok, summary=summary, run_url=run_url, secrets=secrets))
        safely("publish the apply result", lambda: deployments.publish_apply_result(
            gateway, number, unit, environment, summary, report.plan_id or "", run_url, ok=ok, secrets=secrets))

    def wait(message: str, diff_markdown: str) -> None:
        safely("post the diff", lambda: deployments.publish_refusal(
            gateway, number, unit, environment, ["the re-plan on the merge commit differs from the approved plan"],
            f"{text(message)}\n\n{diff_markdown}", run_url=run_url, secrets=secrets))

    report = DeployReport(start, finish, wait)
    try:
        yield report
    except BaseException as exc:
        message = getattr(exc, "description", None) or str(exc) or type(exc).__name__
        cause = exc.__cause__ or exc.__context__
        refused = isinstance(exc, GateRefused) or isinstance(cause, GateRefused)
        if report.posted:
            pass
        elif refused or (not report.plan_id and not report.finished):
            reasons = [str(r) for r in getattr(cause if isinstance(cause, GateRefused) else exc, "refusals", ())]
            safely("post the refusal", lambda: deployments.publish_refusal(
                gateway, number, unit, environment, reasons or [message],
                "Nothing was applied. Fix what is listed, then re-execute the deploy from the Dagster run.",
                run_url=run_url, secrets=secrets))
        elif not report.finished:
            finish(False, message)
        raise
    finally:
        session.close()
