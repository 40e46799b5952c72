"""The use cases that every driver (Dagster assets, the CLI) calls to move a change between environments:
the gate before every apply, which stored plan a deploy applies, the checks before a release or deploy, module
releases, drift fan-out."""

from gitops_pipelines.core.promotion.checks import (approved_plan, check_approval, check_deployed,
                                                    check_released)
from gitops_pipelines.core.promotion.deploys import deployable_plan
from gitops_pipelines.core.promotion.drift import drift_all
from gitops_pipelines.core.promotion.gate import (GateInputs, GateRefusal, GateVerdict, StageResult, enforce_gate,
                                                  evaluate_gate, required_pr_stages)
from gitops_pipelines.core.promotion.module_release import ModuleRelease, next_module_release, publish_module_release

__all__ = [
    "approved_plan", "check_approval", "check_deployed", "check_released", "deployable_plan",
    "drift_all", "enforce_gate", "evaluate_gate", "GateInputs", "GateRefusal", "GateVerdict", "ModuleRelease",
    "next_module_release", "publish_module_release", "required_pr_stages", "StageResult",
]
