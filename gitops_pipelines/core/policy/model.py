"""What policy rules see and produce: the plan as resource changes, violations, the report, the rule registry."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from gitops_pipelines.core.markdown import cell, code_span, prose, text

Severity = Literal["error", "warning"]
Finding = tuple[str, str]  # (resource address, message)
RuleCheck = Callable[["PlanView"], Iterable[Finding]]

_INDEX = re.compile(r"\[[^\]]*\]")

# -- results -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    rule_id: str
    severity: Severity
    address: str
    message: str


@dataclass(frozen=True)
class PolicyReport:
    violations: list[Violation]
    passed: bool
    allowed: list[Violation] = field(default_factory=list)  # waived by the allow set: shown, never failing
    environment: str = ""
    rules: list[str] = field(default_factory=list)  # ids of the rules that ran
    waivers: list[str] = field(default_factory=list)  # the dated waivers that waived something here, described
    expired: list[str] = field(default_factory=list)  # the waivers past their date: they waive nothing any more

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    def markdown(self, redact: Callable[[str], str] | None = None) -> str:
        """A PR comment: verdict, one table row per violation, the waivers, and how to waive. Addresses and
        messages quote the plan (anyone's pull request): they are redacted (with redact), then made inert."""
        clean = redact or str
        env = f" for {code_span(clean(self.environment))}" if self.environment else ""
        if self.passed:
            head = f"### :white_check_mark: Policy passed{env}"
        else:
            head = f"### :x: Policy failed{env}"
        counts = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s), {len(self.rules)} rule(s) checked."
        lines = [head, "", counts]
        if self.violations:
            lines += ["", "| Severity | Rule | Resource | Problem |", "|---|---|---|---|"]
            lines += [_row(v, clean) for v in sorted(self.violations, key=lambda v: (v.severity != "error", v.rule_id))]
        if self.allowed:
            lines += ["", "Allowed by exception:", ""]
            lines += [f"- {code_span(clean(v.rule_id))} on {code_span(clean(v.address or '-'))}: "
                      f"{prose(clean(v.message))}" for v in self.allowed]
        if self.waivers:
            lines += ["", "Waivers in gitops.yaml:", "", *(f"- {prose(clean(w))}" for w in self.waivers)]
        if self.expired:
            lines += ["", "Expired waivers (they waive nothing any more):", "",
                      *(f"- {prose(clean(w))}" for w in self.expired)]
        if self.errors:
            lines += ["", "Fix the resources above, or waive one under `policy.waivers` in gitops.yaml on main "
                          "(rule, address glob, reason, expires)."]
        return "\n".join(lines) + "\n"


def _row(v: Violation, clean: Callable[[str], str]) -> str:
    return (f"| {cell(text(v.severity))} | {cell(code_span(clean(v.rule_id)))} | "
            f"{cell(code_span(clean(v.address or '-')))} | {cell(prose(clean(v.message)))} |")


# -- rules -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    description: str
    check: RuleCheck

    def run(self, plan: "PlanView") -> list[Violation]:
        return [Violation(self.id, self.severity, address, message) for address, message in self.check(plan)]


class RuleRegistry:
    """An ordered set of Python rules, for `evaluate(rules=...)` in place of the default Rego pack."""

    def __init__(self, rules: Iterable[Rule] = ()):
        self._rules: dict[str, Rule] = {}
        for r in rules:
            self.add(r)

    def add(self, rule: Rule) -> Rule:
        if rule.id in self._rules:
            raise ValueError(f"policy rule {rule.id!r} is registered twice")
        self._rules[rule.id] = rule
        return rule

    def rule(self, id: str, severity: Severity, description: str) -> Callable[[RuleCheck], RuleCheck]:
        """Decorator: register a check function under an id."""

        def register(check: RuleCheck) -> RuleCheck:
            self.add(Rule(id, severity, description, check))
            return check

        return register

    def get(self, id: str) -> Rule:
        return self._rules[id]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)


# -- the plan, as rules see it -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResourceChange:
    address: str
    type: str
    name: str
    module_address: str
    actions: tuple[str, ...]
    after: dict[str, Any]
    after_unknown: dict[str, Any]

    @property
    def config_address(self) -> str:
        """The address in configuration: module instance keys and the resource's own index dropped."""
        module = _INDEX.sub("", self.module_address)
        return f"{module}.{self.type}.{self.name}" if module else f"{self.type}.{self.name}"

    @property
    def stays(self) -> bool:
        """The resource exists after apply (created, updated, replaced or untouched)."""
        return self.actions != ("delete",) and "forget" not in self.actions

    @property
    def changes(self) -> bool:
        """Created or updated by this plan: what a policy gate is about."""
        return "create" in self.actions or "update" in self.actions

    @property
    def destroyed(self) -> bool:
        return "delete" in self.actions

    def known(self, attr: str) -> Any:
        """The planned value, or None when Terraform only knows it after apply."""
        if self.after_unknown.get(attr) is True:
            return None
        return self.after.get(attr)

    def is_unknown(self, attr: str) -> bool:
        return self.after_unknown.get(attr) is True


@dataclass(frozen=True)
class PlanView:
    raw: dict[str, Any]
    environment: str
    resources: list[ResourceChange]

    @classmethod
    def of(cls, plan: dict[str, Any], environment: str) -> "PlanView":
        resources = []
        for rc in plan.get("resource_changes") or []:
            if rc.get("mode", "managed") != "managed":
                continue
            change = rc.get("change") or {}
            resources.append(
                ResourceChange(
                    address=rc.get("address", ""),
                    type=rc.get("type", ""),
                    name=rc.get("name", ""),
                    module_address=rc.get("module_address", ""),
                    actions=tuple(change.get("actions") or ()),
                    after=change.get("after") or {},
                    after_unknown=change.get("after_unknown") if isinstance(change.get("after_unknown"), dict) else {},
                )
            )
        return cls(plan, environment, resources)

    def changing(self, *types: str) -> list[ResourceChange]:
        return [r for r in self.resources if r.changes and (not types or r.type in types)]

    def staying(self, *types: str) -> list[ResourceChange]:
        return [r for r in self.resources if r.stays and (not types or r.type in types)]

    def config_resources(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(address prefix, resource) for every resource block in `configuration`, modules included."""
        stack = [("", (self.raw.get("configuration") or {}).get("root_module") or {})]
        while stack:
            prefix, module = stack.pop()
            for resource in module.get("resources") or []:
                yield prefix, resource
            for call_name, call in (module.get("module_calls") or {}).items():
                stack.append((f"{prefix}module.{call_name}.", call.get("module") or {}))


def is_production(environment: str) -> bool:
    """`prod`, `production`, `prod-eu`, ...: environments where destroying needs an explicit waiver."""
    name = environment.lower()
    return name in ("prod", "production") or name.startswith(("prod-", "prod_", "production-", "production_"))


