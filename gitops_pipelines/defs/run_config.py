"""Typed run config a person fills in on the launchpad to approve a release or a production deploy."""

from __future__ import annotations

from enum import Enum

import dagster as dg
from pydantic import Field


class ApprovalConfig(dg.Config):
    """The decision: who approves, why, and the exact stored plan they reviewed."""

    approved_by: str = Field(description="who approves (name or GitHub login); recorded in the audit trail")
    reason: str = Field(description="why this change may go to production (ticket, change request, ...)")
    plan_id: str = Field(description="the plan_id (sha256) of the prod plan you reviewed, from the prod_plan "
                                     "materialization; the run refuses any other plan")


class MergeDeployConfig(dg.Config):
    """Empty when the merge sensor launches it. After a re-plan whose resource changes differ from the approved
    plan, a person who read the diff on the pull request launches it with the new plan_id."""

    plan_id: str = Field(default="", description="the re-plan's plan_id from the diff on the pull request")
    approved_by: str = Field(default="", description="who decides (GitHub login); needed with a plan_id")
    reason: str = Field(default="", description="why the difference is wanted")


class Bump(str, Enum):
    major = "major"
    minor = "minor"
    patch = "patch"


class ModuleReleaseConfig(dg.Config):
    """A module release needs no plan; its version bump comes from the change unless given here."""

    approved_by: str = Field(default="merge", description="who releases; the merge sensor leaves the default")
    reason: str = Field(default="", description="optional note recorded with the release")
    bump: Bump | None = Field(
        default=None, description="force a bump; default: the merged pull requests' release labels, else their "
                                  "Conventional Commits titles, else patch")
