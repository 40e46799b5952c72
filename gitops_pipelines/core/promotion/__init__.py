"""The use cases that every driver (Dagster assets, the CLI) calls to move a change between environments:
the gate before every apply, which stored plan a deploy applies, the checks before a release or deploy,
releases (versions, tags, GitHub Releases), drift fan-out, and after a merge whether to apply the approved plan or re-plan."""

from gitops_pipelines.core.promotion.checks import (approved_plan, check_approval, check_deployed,
                                                    check_released)
from gitops_pipelines.core.promotion.deploys import deployable_plan
from gitops_pipelines.core.promotion.drift import drift_all
from gitops_pipelines.core.promotion.gate import (GateInputs, GateRefusal, GateVerdict, StageResult, enforce_gate,
                                                  evaluate_gate, required_pr_stages)
from gitops_pipelines.core.promotion.merge_deploy import MergeDeploy, merge_deploy_plan
from gitops_pipelines.core.promotion.release_notes import ProductionFacts
from gitops_pipelines.core.promotion.releases import (UnitRelease, local_tags, merged_changes, plan_release,
                                                      prepare_release, publish_release, record_deploy)
from gitops_pipelines.core.promotion.replan import Decision, Replanned, after_replan, decide_after_merge
from gitops_pipelines.core.promotion.status import ChangeStatus, change_status

__all__ = [
    "after_replan", "approved_plan", "ChangeStatus", "change_status", "check_approval", "check_deployed",
    "check_released", "Decision", "decide_after_merge", "deployable_plan", "drift_all", "enforce_gate",
    "evaluate_gate", "GateInputs", "GateRefusal", "GateVerdict", "local_tags", "MergeDeploy", "merge_deploy_plan",
    "merged_changes", "plan_release", "prepare_release", "ProductionFacts", "publish_release", "record_deploy", "Replanned",
    "required_pr_stages", "StageResult", "UnitRelease",
]
