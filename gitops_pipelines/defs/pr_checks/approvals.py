"""`[unit, approval]`: an approving GitHub review of a change's head commit, recorded by the GitHub sensors."""

from __future__ import annotations

import dagster as dg

from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.triggers import RecordApproval
from gitops_pipelines.core.vocabulary import APPROVAL, PR_CHECKS_JOB
from gitops_pipelines.defs.jobs import job_selections
from gitops_pipelines.defs.keys import key
from gitops_pipelines.defs.partitions import changes


def approval_specs(config: GitopsConfig) -> list[dg.AssetSpec]:
    """`[unit, approval]` per unit: the sensors record GitHub review approvals on it, bound to the reviewed commit."""
    checks = job_selections(config)[PR_CHECKS_JOB]
    return [dg.AssetSpec(key(unit.name, APPROVAL), group_name=unit.name, partitions_def=changes,
                         deps=[k for k in checks if k.path[0] == unit.name], kinds={"github"},
                         description="an approving GitHub review of the change's head commit (recorded by the "
                                     "GitHub sensors; a review of an older commit is observed, not materialized)")
            for unit in config.units]


def approval_event(decision: RecordApproval) -> dg.AssetMaterialization | dg.AssetObservation:
    """An approval of the head is a materialization of `[unit, approval]`; an approval of an older commit is only
    observed (it approves nothing)."""
    metadata = {"reviewer": decision.reviewer, "commit_id": decision.commit_id, "head_sha": decision.head_sha,
                "approved": decision.approved, "approved_by": ", ".join(decision.approvers)}
    event = dg.AssetMaterialization if decision.approved else dg.AssetObservation
    return event(asset_key=key(decision.unit, APPROVAL), partition=decision.partition_key, metadata=metadata,
                 description=("approved" if decision.approved else
                              f"review of {decision.commit_id[:12]}, not of the head {decision.head_sha[:12]}"))
