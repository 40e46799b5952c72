"""Security policy on every plan: the default pack of Rego rules (`rules/`, evaluated by `pack`), the repository's
own Rego policies (`rego`), and `evaluate`, which applies waivers and decides."""

from gitops_pipelines.core.policy.evaluation import evaluate
from gitops_pipelines.core.policy.model import (Finding, PlanView, PolicyReport, ResourceChange, Rule, RuleRegistry,
                                                Severity, Violation, is_production)
from gitops_pipelines.core.policy.pack import pack_rules, pack_violations
from gitops_pipelines.core.policy.rego import BUNDLED_POLICIES, RULE_SETS, rego_violations

__all__ = [
    "evaluate", "Finding", "PlanView", "PolicyReport", "ResourceChange", "Rule", "RuleRegistry", "Severity",
    "Violation", "is_production", "pack_rules", "pack_violations", "BUNDLED_POLICIES", "RULE_SETS",
    "rego_violations",
]
