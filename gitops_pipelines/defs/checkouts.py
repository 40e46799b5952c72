"""The checkout a step works on, known before it runs: the pull request's head for PR stages, the merge commit
after the merge; either way judged by main's rules (core/rules.py)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from gitops_pipelines.core.promotion.commits import AFTER_MERGE, ChangeCommits
from gitops_pipelines.core.vocabulary import Stage
from gitops_pipelines.core.workspace import Workspace
from gitops_pipelines.defs.refusals import refusals
from gitops_pipelines.defs.run_tags import refuse_untrusted, run_commits


def head_checkout(context: dg.AssetExecutionContext, gitops: Any, github: Any, unit: str,
                  stage: Stage) -> tuple[ChangeCommits, Workspace]:
    """The change's commits and a workspace on its head; a fork's code is refused before any of it is checked out."""
    with refusals():
        commits = run_commits(context, github)
        refuse_untrusted(context, github, gitops, unit, stage, commits)
        return commits, gitops.workspace(context.log.info, commits.head_sha)


def merged_checkout(context: dg.AssetExecutionContext, gitops: Any, github: Any) -> tuple[ChangeCommits, Workspace]:
    """The change's commits and a workspace on its merge commit (refused while it is not merged)."""
    with refusals():
        commits = run_commits(context, github)
        return commits, gitops.workspace(context.log.info, commits.for_phase(AFTER_MERGE))
