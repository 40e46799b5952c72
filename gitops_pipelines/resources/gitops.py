"""GitopsResource: gitops.yaml plus the plan key -> a core Workspace whose Terraform output goes to the run log."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
from pydantic import Field

from gitops_pipelines.core.config import GitopsConfig, load_config
from gitops_pipelines.core.checkout import repository_root
from gitops_pipelines.core.errors import UsageError
from gitops_pipelines.core.promotion.commits import main_commit
from gitops_pipelines.core.workspace import Workspace, open_workspace


class GitopsResource(dg.ConfigurableResource):
    """The infrastructure repository's gitops.yaml and the key its stored plans are sealed with."""

    config_path: str = Field(description="path to gitops.yaml in the checked-out infrastructure repository")
    plan_key: str | None = Field(
        default=None, description="GITOPS_PLAN_KEY (bind with dg.EnvVar); None falls back to the development key file")
    plan_store_url: str | None = Field(
        default=None, description="overrides plan_store.url of gitops.yaml (a folder or s3://bucket/prefix)")

    def load_config(self) -> GitopsConfig:
        return load_config(self.config_path)

    def main_commit(self) -> str:
        """The tip of the deployed branch (github.main_branch, default main): what scheduled runs check."""
        config = self.load_config()
        repo = repository_root(config.root) or config.root
        return main_commit(repo, config.github.main_branch if config.github else "main")

    def workspace(self, log: Callable[[str], None] | None = None, commit: str | None = None) -> Workspace:
        """A Workspace for one step, on a checkout of `commit` when the run is bound to one; pass
        `context.log.info` so each Terraform line shows in the run as it comes."""
        sink = None if log is None else (lambda line: log(line) if line.strip() else None)  # blank lines: no events
        return open_workspace(self.config_path, plan_key=self.plan_key, plan_store_url=self.plan_store_url, log=sink,
                              commit=commit, rules_commit=self.rules_commit() if commit else None)

    def rules_commit(self) -> str | None:
        """The commit whose gitops.yaml and policies judge every change: the tip of main. A repository without a
        `github:` section and without a main branch is judged by the working copy's rules."""
        try:
            return self.main_commit()
        except UsageError:
            if self.load_config().github is not None:
                raise
            return None
