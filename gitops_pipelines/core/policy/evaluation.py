"""Security policy on every plan: plain-Python rules over `terraform show -json`, plus optional Rego policies.

A rule is a function over a `PlanView` that yields (address, message) pairs; it is registered with an id, a
severity and a description. `evaluate` runs every rule, drops what the `allow` set waives, and fails the plan
when an `error` remains. Waivers are `<rule id>` (the whole rule) or `<rule id>:<address glob>`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from gitops_pipelines.core.errors import ConfigError

from gitops_pipelines.core.policy_builtin import BUILTIN_RULES
from gitops_pipelines.core.policy_model import (  # noqa: F401 - re-exported for callers
    Finding, PlanView, PolicyReport, ResourceChange, Rule, RuleRegistry, Severity, Violation, is_production,
)

REGO_QUERY = "data.gitops.deny"
BUNDLED_POLICIES = Path(__file__).parent / "policies"  # Rego policies shipped with the product; opt in by rego_dir


# -- Rego --------------------------------------------------------------------------------------------------------
def rego_violations(plan: dict[str, Any], environment: str, folder: str | Path) -> list[Violation]:
    """Evaluate every `*.rego` in a folder on the plan and turn `data.gitops.deny` into violations.

    `input` is the plan JSON; `data.gitops_context.environment` is the environment. A deny entry is a message
    string, or an object with `msg` and optionally `address`, `severity` (error|warning) and `rule`.
    """
    files = sorted(Path(folder).glob("*.rego"))
    if not files:
        return []
    try:
        from regopy import Interpreter, RegoError
    except ImportError:
        raise ConfigError("Rego policies need the regopy package: pip install regopy", file=str(folder)) from None
    rego = Interpreter()
    for file in files:
        try:
            rego.add_module(file.name, file.read_text(encoding="utf-8"))
        except RegoError as exc:
            raise ConfigError(f"not a valid Rego module: {exc}", file=str(file)) from None
    try:
        rego.add_data_json(json.dumps({"gitops_context": {"environment": environment}}))
        rego.set_input_term(json.dumps(plan))
        output = rego.query(REGO_QUERY)
    except RegoError as exc:
        raise ConfigError(f"Rego policies failed on this plan: {exc}", file=str(folder)) from None
    except ValueError as exc:  # regopy could not read its own result (seen with sprintf("%s") of a concat)
        raise ConfigError(f"Rego policies gave a result that is not JSON ({exc}); build messages with concat",
                          file=str(folder)) from None
    if not output.ok():
        raise ConfigError(f"Rego policies failed on this plan: {output}", file=str(folder))
    text = str(output)
    if text == "undefined":
        return []
    expressions = json.loads(text).get("expressions") or []
    found = [_rego_violation(entry) for entry in (expressions[0] if expressions else []) or []]
    return sorted(found, key=lambda v: (v.rule_id, v.address, v.message))


def _rego_violation(entry: Any) -> Violation:
    if not isinstance(entry, dict):
        return Violation("rego", "error", "", str(entry))
    severity = entry.get("severity") if entry.get("severity") in ("error", "warning") else "error"
    message = entry.get("msg") or entry.get("message") or json.dumps(entry, sort_keys=True)
    return Violation(str(entry.get("rule") or entry.get("id") or "rego"), severity, str(entry.get("address") or ""), str(message))


# -- evaluation --------------------------------------------------------------------------------------------------
def evaluate(
    plan_json: dict[str, Any] | str,
    environment: str,
    allow: Iterable[str] = (),
    *,
    rules: Iterable[Rule] | None = None,
    rego_dir: str | Path | None = None,
) -> PolicyReport:
    """Run the rules (built-in by default) and the Rego policies in `rego_dir` on one plan of one environment."""
    plan = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
    view = PlanView.of(plan, environment)
    active = list(BUILTIN_RULES if rules is None else rules)
    found: list[Violation] = []
    for rule in active:
        found += rule.run(view)
    ran = [r.id for r in active]
    if rego_dir is not None:
        found += rego_violations(plan, environment, rego_dir)
        ran.append(f"rego:{Path(rego_dir).name}")
    waivers = [a for a in allow if a]
    kept = [v for v in found if not _waived(v, waivers)]
    allowed = [v for v in found if _waived(v, waivers)]
    return PolicyReport(
        violations=kept,
        passed=not any(v.severity == "error" for v in kept),
        allowed=allowed,
        environment=environment,
        rules=ran,
    )


def _waived(violation: Violation, waivers: list[str]) -> bool:
    for waiver in waivers:
        rule_id, sep, pattern = waiver.partition(":")
        if rule_id != violation.rule_id:
            continue
        if not sep or fnmatchcase(violation.address, pattern):
            return True
    return False
