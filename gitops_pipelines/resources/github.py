"""GitHubResource: gitops.yaml's `github:` section plus a token (bind with dg.EnvVar) -> the core GitHub gateway."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Optional

import dagster as dg
from pydantic import Field

from gitops_pipelines.core.config import GitHubSettings
from gitops_pipelines.core.github import GitHubGateway
from gitops_pipelines.core.github.transport import RetryPolicy
from gitops_pipelines.core.github.webhook_store import WebhookStore

WEBHOOK_DB_ENV = "GITOPS_WEBHOOK_DB"
SENSOR_RETRIES = RetryPolicy(attempts=3, backoff=1.0, max_backoff=4.0, max_rate_wait=10.0)
DAGSTER_URL_ENV = "GITOPS_DAGSTER_URL"


class GitHubResource(dg.ConfigurableResource):
    """One repository on GitHub or GitHub Enterprise; the sensors read it and the PR stages report to it."""

    repository: str = Field(description="owner/name of the infrastructure repository")
    api_url: str = Field(default="https://api.github.com", description="REST base URL (GitHub Enterprise: .../api/v3)")
    token: Optional[str] = Field(default=None, description="bind with dg.EnvVar (github.token_env of gitops.yaml)")
    webhook_db: Optional[str] = Field(
        default=None, description=f"the webhook receiver's delivery store (${WEBHOOK_DB_ENV}); set: the webhook "
                                  "sensor reads it and the polling sensor stands down")
    dagster_url: Optional[str] = Field(
        default=None, description=f"the Dagster webserver's address people open (${DAGSTER_URL_ENV}); deployments and "
                                  "comments on GitHub link to the run")
    seconds_between_requests: float = Field(default=0.25, description="PyGithub throttle between requests")
    seconds_between_writes: float = Field(default=1.0, description="PyGithub throttle between writes")

    @classmethod
    def from_settings(cls, settings: GitHubSettings, *, webhook_db: str | None = None) -> "GitHubResource":
        """Bound the way a code location binds it: the token from the environment variable gitops.yaml names (bound
        only when set, so a missing token fails the sensors with a clear message instead of every run's start)."""
        token = dg.EnvVar(settings.token_env) if os.environ.get(settings.token_env) else None
        return cls(repository=settings.repository, api_url=settings.api_url, token=token,
                   webhook_db=webhook_db or None, dagster_url=os.environ.get(DAGSTER_URL_ENV) or None)

    def run_url(self, run_id: str) -> str | None:
        """The run's page in the Dagster UI, when the webserver's address is known."""
        return f"{self.dagster_url.rstrip('/')}/runs/{run_id}" if self.dagster_url else None

    def gateway(self, log: Callable[[str], None] | None = None, *, within_tick: bool = False,
                repository: str | None = None) -> GitHubGateway:
        """within_tick: for a sensor, whose tick Dagster cancels after 60 s: few retries and no long rate-limit
        wait, so a limit fails the tick at once with its reset time and the next tick tries again.
        repository: another repository of gitops.yaml's `repositories:` (a module's consumers there), same token."""
        return GitHubGateway(repository or self.repository, token=self.token, base_url=self.api_url,
                             log=log or logging.getLogger(__name__).debug,
                             retries=SENSOR_RETRIES if within_tick else None,
                             seconds_between_requests=self.seconds_between_requests,
                             seconds_between_writes=self.seconds_between_writes)

    def webhook_store(self) -> WebhookStore | None:
        return WebhookStore(self.webhook_db) if self.webhook_db else None


# What an asset asks for: the resource, or None when gitops.yaml has no `github:` section (nothing is published).
OptionalGitHub = dg.ResourceParam[Optional[GitHubResource]]


def no_github() -> dg.ResourceDefinition:
    """The `github` resource of a repository without a `github:` section: None."""
    return dg.ResourceDefinition.none_resource(description="no `github:` section in gitops.yaml: nothing is published")
