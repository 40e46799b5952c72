"""The built-in security rules, run on every plan unless gitops.yaml waives them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from gitops_pipelines.core.policy.model import _INDEX, Finding, PlanView, RuleRegistry, is_production

OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
WEB_PORTS = frozenset({80, 443})
BUILTIN_RULES = RuleRegistry()


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

