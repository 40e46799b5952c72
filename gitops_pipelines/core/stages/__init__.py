"""The stages of the flow, each a use case on real Terraform returning a typed result."""

from gitops_pipelines.core.stages.apply import ApplyResult, apply
from gitops_pipelines.core.stages.drift import DriftResult, drift
from gitops_pipelines.core.stages.ephemeral import EphemeralResult, ephemeral_test
from gitops_pipelines.core.stages.plan import PlanResult, plan
from gitops_pipelines.core.stages.syntax import Diagnostic, SyntaxResult, syntax

__all__ = [
    "ApplyResult", "apply", "DriftResult", "drift", "EphemeralResult", "ephemeral_test", "PlanResult", "plan",
    "Diagnostic", "SyntaxResult", "syntax",
]
