"""The default policy pack: the `.rego` files in `rules/` (package `gitops`), evaluated in-process with regopy.

The same files run with conftest on `terraform show -json` (see rules/terraform.rego). Here they are compiled once
per process and context (environment, production or not, required tags) into a regopy bundle, and each plan is
handed to them as an input made for them by `pack_input`: regopy's cost grows with what it is given and with each
value a rule looks at (a 200-resource plan is judged in tens of milliseconds this way, several times faster than
on the plan's own JSON).

- `input.gitops.changes_by_type`: the resource changes grouped by type, so that a rule goes only through the types
  it judges (regopy takes about as long to look at a resource's type as to judge it). Left out: data sources, the
  changes that leave a resource as it is (but for UNCHANGED_READ types), the attributes no rule reads (ATTRIBUTES),
  the keys of a change other than its actions, `after` and the top-level `true`s of `after_unknown`, and a plan's
  `prior_state`, `planned_values` and `before` values, which repeat what `after` says. Each change also gets its
  `config_address`, which the pack would otherwise compute with a regex, slowly in regopy.
- `input.gitops.config_resources`: the resource blocks of `configuration`, modules included, with their address
  prefix (the pack would otherwise `walk` the configuration, slowly in regopy); `configuration.provider_config`
  (its default_tags) and `variables` as in the plan.
- `input.gitops.grouped`: true. The helpers `changes_by_type` and `config_resources` of terraform.rego read the
  two lists above when it is set, and compute the same from `input.resource_changes` and `input.configuration`
  when it is not, as with conftest: the rules themselves read a plan only through them. The price is that the
  two ways must agree; whoever adds a rule reading another part of the plan (another attribute, unchanged
  resources of another type, ...) adds it to `pack_input`, and a rule must not read `input.resource_changes`,
  which this input does not have.

The input is handed to regopy as Python values (`rego_input`), not as JSON text: regopy's JSON parser takes
longer than the evaluation itself.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence, Set as AbstractSet
from functools import lru_cache
from typing import Any

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.policy.model import Violation, is_production
from gitops_pipelines.core.policy.rego import BUNDLED_NAMESPACE, BUNDLED_POLICIES, EVALUATION_RULE, _violation

ENTRYPOINTS = {"deny": "error", "warn": "warning"}
# The resource attributes the pack's rules read; the others are left out of its input.
ATTRIBUTES = frozenset({
    "tags", "tags_all", "bucket", "acl", "access_control_policy", "block_public_acls", "block_public_policy",
    "ignore_public_acls", "restrict_public_buckets", "ingress", "type", "cidr_blocks", "ipv6_cidr_blocks",
    "protocol", "from_port", "to_port", "ip_protocol", "cidr_ipv4", "cidr_ipv6", "storage_encrypted", "encrypted",
    "policy", "inline_policy",
})
# Unchanged resources the rules still read: what covers a new bucket, and the account's public access block.
UNCHANGED_READ = frozenset({"aws_s3_bucket_public_access_block", "aws_s3_bucket_server_side_encryption_configuration",
                            "aws_s3_account_public_access_block"})
REQUIRED_TAGS_RULE = "required-tags"
_INSTANCE_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]]*)\]')  # [0], ["eu"]: as instance_key in the pack
_RULE_ID = re.compile(r'"rule":\s*"([a-z0-9-]+)"')
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def pack_rules() -> tuple[str, ...]:
    """The ids of the pack's rules, in file order (each `.rego` file but the shared helpers holds one)."""
    ids: list[str] = []
    for file in sorted(BUNDLED_POLICIES.glob("*.rego")):
        ids += _RULE_ID.findall(file.read_text(encoding="utf-8"))
    return tuple(dict.fromkeys(ids))


def active_rules(required_tags: tuple[str, ...]) -> list[str]:
    """The rules that judge a plan: required-tags only when tags are configured."""
    return [r for r in pack_rules() if r != REQUIRED_TAGS_RULE or required_tags]


def pack_context(environment: str, required_tags: tuple[str, ...]) -> dict[str, Any]:
    """The pack's `data`: what conftest users pass with --data (see rules/terraform.rego)."""
    return {"gitops_context": {"environment": environment, "production": is_production(environment)},
            BUNDLED_NAMESPACE: {"required_tags": list(required_tags)}}


def pack_violations(plan: dict[str, Any], environment: str, required_tags: tuple[str, ...] = ()) -> list[Violation]:
    """Every deny (error) and warn (warning) entry of the pack on one plan."""
    try:
        from regopy import Interpreter, RegoError
    except ImportError:
        raise ConfigError("the default policy pack needs the regopy package: pip install regopy",
                          file=str(BUNDLED_POLICIES)) from None
    bundle = _bundle(environment, tuple(required_tags))
    rego = Interpreter()
    rego.set_input(rego_input(pack_input(plan)))
    found: list[Violation] = []
    for entrypoint, severity in ENTRYPOINTS.items():
        try:
            with _LOCK:  # a bundle is shared by the threads of a process; regopy does not say it may be
                output = rego.query_bundle_entrypoint(bundle, f"{BUNDLED_NAMESPACE}/{entrypoint}")
            text = str(output)
        except (RegoError, ValueError) as exc:
            found.append(Violation(EVALUATION_RULE, "error", "", f"the default policy pack's {entrypoint} rules "
                                   f"failed: {str(exc).strip()[:300]}; report it with the plan JSON"))
            continue
        if not output.ok():
            found.append(Violation(EVALUATION_RULE, "error", "", f"the default policy pack's {entrypoint} rules "
                                   f"failed: {text.strip()[:300]}"))
            continue
        entries = [] if text == "undefined" else (json.loads(text).get("expressions") or [[]])[0]
        found += [_violation(e, BUNDLED_NAMESPACE, entrypoint, severity) for e in entries or []]
    return sorted(found, key=lambda v: (v.rule_id, v.address, v.message))


@lru_cache(maxsize=32)
def _bundle(environment: str, required_tags: tuple[str, ...]) -> Any:
    """The pack compiled with its context as data: once per process and context."""
    from regopy import Interpreter

    build = Interpreter()
    for file in sorted(BUNDLED_POLICIES.glob("*.rego")):
        build.add_module(file.name, file.read_text(encoding="utf-8"))
    build.add_data_json(json.dumps(pack_context(environment, required_tags)))
    return build.build(None, [f"{BUNDLED_NAMESPACE}/{name}" for name in ENTRYPOINTS])


def pack_input(plan: dict[str, Any]) -> dict[str, Any]:
    """The parts of the plan JSON the pack reads, grouped for it (see the module's doc)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for rc in plan.get("resource_changes") or []:
        change = rc.get("change") or {}
        if set(change.get("actions") or ()) <= {"no-op", "read"} and rc.get("type") not in UNCHANGED_READ:
            continue  # no rule judges a resource the plan leaves as it is
        if rc.get("mode", "managed") != "managed":
            continue  # nor a data source
        unknown = change.get("after_unknown")
        after = change.get("after") if isinstance(change.get("after"), dict) else {}
        entry = {key: rc[key] for key in ("address", "type") if key in rc}
        entry["mode"] = rc.get("mode", "managed")
        entry["config_address"] = _INSTANCE_KEY.sub("", str(rc.get("address", "")))  # see config_address in the pack
        entry["change"] = {
            "actions": list(change.get("actions") or []),
            "after": {k: _policy_json(k, v) for k, v in after.items() if k in ATTRIBUTES},
            # the rules ask only whether a top-level attribute is unknown
            "after_unknown": {k: True for k, v in unknown.items() if v is True and k in ATTRIBUTES}
            if isinstance(unknown, dict) else {},
        }
        by_type.setdefault(str(rc.get("type")), []).append(entry)
    configuration = plan.get("configuration") or {}
    return {
        "gitops": {"grouped": True, "changes_by_type": by_type,
                   "config_resources": _config_resources(configuration.get("root_module") or {}, "")},
        "variables": plan.get("variables") or {},
        "configuration": {
            "provider_config": {key: {"name": p.get("name"), "expressions": _default_tags(p)}
                                for key, p in (configuration.get("provider_config") or {}).items()},
        },
    }


def _as_rego_text(value: Any) -> Any:
    """Strings as regopy holds the strings of a JSON input: escaped. Handed raw, a for_each key's quotes
    (`module.app["eu"]`) would compare wrongly and come back as invalid JSON."""
    if isinstance(value, str):
        return json.dumps(value)[1:-1]
    if isinstance(value, dict):
        return {_as_rego_text(k): _as_rego_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_rego_text(v) for v in value]
    return value


def rego_input(value: Any) -> Any:
    """A regopy Input of a JSON value, its strings as _as_rego_text gives them. Built with the C calls regopy's
    own Input makes, in a third less time: regopy tests each value against abstract types and copies each string
    into a buffer, which cost more than the calls (a 200-resource plan's input has some 6,500 values)."""
    from regopy import Input

    try:
        from regopy.rego_shared import rego as lib, rego_free_input, rego_new_input
        calls = (lib.regoInputString, lib.regoInputInt, lib.regoInputFloat, lib.regoInputBoolean,
                 lib.regoInputNull, lib.regoInputObjectItem, lib.regoInputObject, lib.regoInputArray)
    except (ImportError, AttributeError):  # another regopy: its own way
        return Input(_as_rego_text(value))
    string, integer, double, boolean, null, item, close_object, close_array = calls
    pointer = rego_new_input()
    dumps = json.dumps

    def text(value: str) -> bytes:
        if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
            return value.encode()  # what json.dumps would give, without the quotes
        return dumps(value)[1:-1].encode()

    def add(value: Any) -> None:
        kind = type(value)
        if kind is str:
            code = string(pointer, text(value))
        elif kind is dict:
            for key, member in value.items():
                add(key)
                add(member)
                if item(pointer):
                    raise ValueError(f"rego input: object item {key!r}")
            code = close_object(pointer, len(value))
        elif kind is list or kind is tuple:
            for member in value:
                add(member)
            code = close_array(pointer, len(value))
        elif value is None:
            code = null(pointer)
        elif kind is bool:
            code = boolean(pointer, value)
        elif kind is int:
            code = integer(pointer, value)
        elif kind is float:
            code = double(pointer, value)
        else:  # not from JSON: as regopy's Input takes it
            code = 0
            add(_plain(value))
        if code:
            raise ValueError(f"rego input: {value!r} (code {code})")

    try:
        add(value)
    except BaseException:
        rego_free_input(pointer)
        raise
    built = Input.__new__(Input)
    built._impl = pointer  # freed by Input.__del__
    return built


def _plain(value: Any) -> Any:
    """A value of a subclass of a JSON type as that type; anything else is not JSON."""
    for kind in (bool, int, float, str, dict, list):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (AbstractSet, Sequence)) and not isinstance(value, (bytes, bytearray)):
        return list(value)
    raise ValueError(f"rego input: a {type(value).__name__} is not JSON")


def _policy_json(attr: str, value: Any) -> Any:
    """A `policy` that is not a JSON document is left out: regopy's json.unmarshal would print its parse errors
    to stdout (where the CLI writes its JSON), and the rule could not judge it anyway."""
    if attr == "policy":
        return value if _json_object(value) else None
    if attr == "inline_policy" and isinstance(value, list):
        return [{**b, "policy": b.get("policy") if _json_object(b.get("policy")) else None}
                if isinstance(b, dict) else b for b in value]
    return value


def _json_object(text: Any) -> bool:
    try:
        return isinstance(text, str) and isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _default_tags(provider: dict[str, Any]) -> dict[str, Any]:
    expressions = provider.get("expressions") or {}
    return {"default_tags": expressions["default_tags"]} if "default_tags" in expressions else {}


def _config_resources(module: dict[str, Any], prefix: str) -> list[list[Any]]:
    """[address prefix ("module.a.module.b."), block] of every resource block of a module and of the modules it
    calls: config_resources in the pack."""
    found: list[list[Any]] = []
    for block in module.get("resources") or []:
        kept = {key: block[key] for key in ("address", "mode", "type", "name") if key in block}
        bucket = (block.get("expressions") or {}).get("bucket")
        kept["expressions"] = {"bucket": bucket} if bucket is not None else {}
        if block.get("provisioners"):
            kept["provisioners"] = [{"type": p.get("type")} for p in block["provisioners"]]
        found.append([prefix, kept])
    for name, call in (module.get("module_calls") or {}).items():
        found += _config_resources(call.get("module") or {}, f"{prefix}module.{name}.")
    return found
