"""The flow's words, spelled once: stages, change keys, the intents the triggers decide, the jobs that run them.

A stage is the second part of every asset key `[unit, stage]` and the name of its GitHub check run. Plan and
deploy stages belong to an environment; `Stage` carries it, so nothing parses `"<env>_plan"` back from a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

SYNTAX = "syntax"
EPHEMERAL_TEST = "ephemeral_test"
APPROVAL = "approval"
WORK_ITEM = "work_item"
RULES = "rules"  # the check of a change that edits the rules it is judged by
RULES_CHANGED = "rules_changed"  # recorded with syntax: whether the change edits the rules
MODULE_REFS = "module_refs"  # every module from outside the unit is a pinned release (checked beside syntax)
POLICY = "policy"
RELEASE = "release"
DRIFT = "drift"
PLAN, DEPLOY = "plan", "deploy"

CHANGE_PREFIX = "pr-"


@dataclass(frozen=True)
class Stage:
    """One stage of a unit: `kind` is a word above; plan and deploy stages also name their environment."""

    kind: str
    environment: str | None = None

    @property
    def name(self) -> str:
        """The asset-key part: `syntax`, `test_plan`, `prod_deploy`, ..."""
        return f"{self.environment}_{self.kind}" if self.environment else self.kind

    @property
    def is_plan(self) -> bool:
        return self.kind == PLAN

    def __str__(self) -> str:
        return self.name


def plan_stage(environment: str) -> Stage:
    return Stage(PLAN, environment)


def deploy_stage(environment: str) -> Stage:
    return Stage(DEPLOY, environment)


def change_key(number: int) -> str:
    """The change (Dagster partition) of pull request `number`: `pr-<number>`."""
    return f"{CHANGE_PREFIX}{number}"


def pr_number(change: str) -> int | None:
    """`pr-12` -> 12; None for a change key that is not a pull request."""
    digits = change.removeprefix(CHANGE_PREFIX) if change.startswith(CHANGE_PREFIX) else ""
    return int(digits) if digits.isdigit() else None


class Intent(str, Enum):
    """What the triggers decide should happen for a unit of a change; the Dagster layer maps each to a job."""

    CHECK = "check"  # the PR-time stages at a head commit
    PROMOTE = "promote"  # a project merged: deploy the stored first plan, plan the next environment
    RELEASE_MODULE = "release_module"  # a module merged: its next version


# The Dagster jobs, by the names people see in the UI.
PR_CHECKS_JOB, MERGE_JOB, RELEASE_JOB, PROD_DEPLOY_JOB, DRIFT_JOB = (
    "pr_checks", "merge", "release", "prod_deploy", "drift")
