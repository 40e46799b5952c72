"""One GitHub connection for an asset that tells GitHub what it does: feedback must never break the stage, so every
call goes through `safely`, which logs a failure (re-execute the step to publish again) and carries on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg

from gitops_pipelines.core.vocabulary import pr_number


class GitHubSession:
    """The gateway of one step (None when GitHub is not configured, the change is no PR, or it is unreachable)."""

    def __init__(self, context: dg.AssetExecutionContext, github: Any, subject: str):
        self.context, self.subject = context, subject
        change = context.partition_key if context.has_partition_key else ""
        self.number = pr_number(change)
        self.gateway = None
        if github is not None and self.number is not None:
            self.gateway = self.safely("connect", lambda: github.gateway(context.log.debug))

    def safely(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - feedback must never break the stage
            self.context.log.warning(f"{self.subject}: could not {what} on GitHub: {exc}")
            return None

    def close(self) -> None:
        if self.gateway is not None:
            self.gateway.close()
