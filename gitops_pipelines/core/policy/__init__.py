"""Security policy on every plan: built-in rules over `terraform show -json` (`builtin`), Rego policies (`rego`,
the bundled pack in `rules/` plus the repository's own), and `evaluate`, which applies waivers and decides."""

from gitops_pipelines.core.policy.builtin import BUILTIN_RULES
from gitops_pipelines.core.policy.evaluation import evaluate
from gitops_pipelines.core.policy.model import (Finding, PlanView, PolicyReport, ResourceChange, Rule, RuleRegistry,
                                                Severity, Violation, is_production)
from gitops_pipelines.core.policy.rego import BUNDLED_POLICIES, RULE_SETS, rego_violations

__all__ = [
    "BUILTIN_RULES", "evaluate", "Finding", "PlanView", "PolicyReport", "ResourceChange", "Rule", "RuleRegistry",
    "Severity", "Violation", "is_production", "BUNDLED_POLICIES", "RULE_SETS", "rego_violations",
]
