"""Security policy on every plan: plain-Python rules over `terraform show -json`, plus optional Rego policies.

A rule is a function over a `PlanView` that yields (address, message) pairs; it is registered with an id, a
severity and a description. `evaluate` runs every rule, drops what the `allow` set waives, and fails the plan
when an `error` remains. Waivers are `<rule id>` (the whole rule) or `<rule id>:<address glob>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

from gitops_pipelines.core.errors import ConfigError

Severity = Literal["error", "warning"]
Finding = tuple[str, str]  # (resource address, message)
RuleCheck = Callable[["PlanView"], Iterable[Finding]]

REGO_QUERY = "data.gitops.deny"
BUNDLED_POLICIES = Path(__file__).parent / "policies"  # Rego policies shipped with the product; opt in by rego_dir
OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
WEB_PORTS = frozenset({80, 443})
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

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    def markdown(self) -> str:
        """A PR comment: verdict, one table row per violation, the waivers, and how to waive."""
        env = f" for `{self.environment}`" if self.environment else ""
        if self.passed:
            head = f"### :white_check_mark: Policy passed{env}"
        else:
            head = f"### :x: Policy failed{env}"
        counts = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s), {len(self.rules)} rule(s) checked."
        lines = [head, "", counts]
        if self.violations:
            lines += ["", "| Severity | Rule | Resource | Problem |", "|---|---|---|---|"]
            lines += [_row(v) for v in sorted(self.violations, key=lambda v: (v.severity != "error", v.rule_id))]
        if self.allowed:
            lines += ["", "Allowed by exception:", ""]
            lines += [f"- `{v.rule_id}` on `{v.address or '-'}`: {_cell(v.message)}" for v in self.allowed]
        if self.errors:
            lines += ["", "Fix the resources above, or waive one explicitly with `<rule id>:<address>` in the allow list."]
        return "\n".join(lines) + "\n"


def _row(v: Violation) -> str:
    return f"| {v.severity} | `{v.rule_id}` | `{v.address or '-'}` | {_cell(v.message)} |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


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
    """An ordered set of rules; `BUILTIN_RULES` holds the ones every plan gets."""

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


BUILTIN_RULES = RuleRegistry()


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


# -- built-in rules ----------------------------------------------------------------------------------------------
_PAB_FLAGS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
_PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")


@BUILTIN_RULES.rule("s3-bucket-public-access-block", "warning", "A new S3 bucket gets an aws_s3_bucket_public_access_block.")
def _bucket_without_access_block(plan: PlanView) -> Iterator[Finding]:
    for account_block in plan.staying("aws_s3_account_public_access_block"):
        if all(account_block.known(flag) is True for flag in _PAB_FLAGS):
            return  # the account blocks public access for every bucket
    names: set[str] = set()
    for block in plan.staying("aws_s3_bucket_public_access_block"):
        if isinstance(block.known("bucket"), str):
            names.add(block.known("bucket"))
    referenced: set[str] = set()
    for prefix, resource in plan.config_resources():
        if resource.get("type") != "aws_s3_bucket_public_access_block":
            continue
        for ref in ((resource.get("expressions") or {}).get("bucket") or {}).get("references") or []:
            parts = _INDEX.sub("", ref).split(".")
            if len(parts) >= 2 and parts[0] == "aws_s3_bucket":
                referenced.add(f"{prefix}{parts[0]}.{parts[1]}")
    for bucket in plan.changing("aws_s3_bucket"):
        if "create" not in bucket.actions:
            continue
        if bucket.config_address in referenced or bucket.known("bucket") in names:
            continue
        yield bucket.address, "new S3 bucket has no aws_s3_bucket_public_access_block; add one with all four flags true"


@BUILTIN_RULES.rule("s3-public-acl", "error", "No S3 bucket ACL grants read or write to everyone.")
def _public_bucket_acl(plan: PlanView) -> Iterator[Finding]:
    for res in plan.changing("aws_s3_bucket_acl", "aws_s3_bucket"):
        acl = res.known("acl")
        if isinstance(acl, str) and acl.startswith("public-read"):
            yield res.address, f"canned ACL {acl!r} makes the bucket public; use private and grant access by policy"
        for policy in res.known("access_control_policy") or []:
            for grant in (policy or {}).get("grant") or []:
                for grantee in (grant or {}).get("grantee") or []:
                    if (grantee or {}).get("uri") in _PUBLIC_GRANTEES:
                        yield res.address, f"ACL grants {grant.get('permission', 'access')} to {grantee['uri'].rsplit('/', 1)[-1]}"


@BUILTIN_RULES.rule("s3-public-access-block-disabled", "error", "A public access block keeps all four flags true.")
def _access_block_disabled(plan: PlanView) -> Iterator[Finding]:
    for res in plan.changing("aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"):
        off = [flag for flag in _PAB_FLAGS if not res.is_unknown(flag) and res.after.get(flag) is not True]
        if off:
            yield res.address, f"public access block turns off {', '.join(off)}; set all four to true"


@BUILTIN_RULES.rule("sg-open-ingress", "error", "Ingress from 0.0.0.0/0 or ::/0 only on ports 80 and 443.")
def _open_ingress(plan: PlanView) -> Iterator[Finding]:
    for res in plan.changing("aws_security_group"):
        for rule in res.known("ingress") or []:
            cidrs = [*(rule.get("cidr_blocks") or []), *(rule.get("ipv6_cidr_blocks") or [])]
            yield from _open_rule(res.address, cidrs, rule.get("protocol"), rule.get("from_port"), rule.get("to_port"))
    for res in plan.changing("aws_security_group_rule"):
        if res.known("type") == "ingress":
            cidrs = [*(res.known("cidr_blocks") or []), *(res.known("ipv6_cidr_blocks") or [])]
            yield from _open_rule(res.address, cidrs, res.known("protocol"), res.known("from_port"), res.known("to_port"))
    for res in plan.changing("aws_vpc_security_group_ingress_rule"):
        cidrs = [c for c in (res.known("cidr_ipv4"), res.known("cidr_ipv6")) if c]
        yield from _open_rule(res.address, cidrs, res.known("ip_protocol"), res.known("from_port"), res.known("to_port"))


def _open_rule(address: str, cidrs: list[str], protocol: Any, from_port: Any, to_port: Any) -> Iterator[Finding]:
    open_to = sorted(OPEN_CIDRS.intersection(cidrs))
    if not open_to:
        return
    proto = str(protocol if protocol is not None else "").lower()
    if proto in ("icmp", "icmpv6", "1", "58"):
        return  # ICMP has types, not ports
    if proto in ("-1", "all") or from_port is None or to_port is None:
        ports = "all ports"
    else:
        low, high = int(from_port), int(to_port)
        if low == high and low in WEB_PORTS:
            return
        ports = f"port {low}" if low == high else f"ports {low}-{high}"
    yield address, f"ingress from {' and '.join(open_to)} on {ports}; only 80 and 443 may be open to the internet"


@BUILTIN_RULES.rule("iam-wildcard-admin", "error", "No IAM policy allows Action \"*\" on Resource \"*\".")
def _wildcard_iam(plan: PlanView) -> Iterator[Finding]:
    for res in plan.changing():
        for where, document in _policy_documents(res.after):
            for statement in _statements(document):
                if (
                    statement.get("Effect") == "Allow"
                    and "*" in _as_list(statement.get("Action"))
                    and "*" in _as_list(statement.get("Resource"))
                ):
                    sid = f" (statement {statement['Sid']!r})" if statement.get("Sid") else ""
                    yield res.address, f"{where} allows every action on every resource{sid}; grant only what is needed"


def _policy_documents(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON policy document in an attribute tree: attributes named `policy`, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key == "policy" and isinstance(item, str):
                try:
                    document = json.loads(item)
                except ValueError:
                    continue
                if isinstance(document, dict):
                    yield where, document
            else:
                yield from _policy_documents(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _policy_documents(item, f"{path}[{i}]")


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@BUILTIN_RULES.rule("destroy-in-prod", "error", "Destroying or replacing a resource in production needs an explicit allow.")
def _destroy_in_production(plan: PlanView) -> Iterator[Finding]:
    if not is_production(plan.environment):
        return
    for res in plan.resources:
        if res.destroyed:
            what = "replaced (destroyed, then created)" if "create" in res.actions else "destroyed"
            yield res.address, f"would be {what} in {plan.environment}; allow `destroy-in-prod:{res.address}` if intended"


_ENCRYPTION_FLAG = {"aws_db_instance": "storage_encrypted", "aws_rds_cluster": "storage_encrypted", "aws_ebs_volume": "encrypted"}


@BUILTIN_RULES.rule("unencrypted-storage", "error", "Databases and EBS volumes are encrypted at rest.")
def _unencrypted_storage(plan: PlanView) -> Iterator[Finding]:
    for res in plan.changing(*_ENCRYPTION_FLAG):
        flag = _ENCRYPTION_FLAG[res.type]
        if not res.is_unknown(flag) and res.after.get(flag) is not True:
            yield res.address, f"{res.type} is not encrypted at rest; set {flag} = true"


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
