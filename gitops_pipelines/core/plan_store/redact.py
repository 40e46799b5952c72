"""Removes sensitive values from `terraform show -json` output before it is stored or shown."""

from __future__ import annotations

import copy
from typing import Any

from gitops_pipelines.core.redact import MIN_SECRET_LEN, Redactor

SENSITIVE = "(sensitive value)"


def redact_plan_json(plan_json: dict) -> dict:
    """A copy of the plan JSON with every value Terraform marks sensitive replaced by "(sensitive value)"."""
    return redact_with_secrets(plan_json)[0]


def redact_with_secrets(plan_json: dict) -> tuple[dict, list[str]]:
    """The redacted copy plus the secret strings it removed, longest first (to scrub rendered text too)."""
    doc = copy.deepcopy(plan_json)
    found: set[str] = set()
    _variables(doc, found)
    for outputs in (_dig(doc, "planned_values", "outputs"), _dig(doc, "prior_state", "values", "outputs")):
        for out in (outputs or {}).values():
            if isinstance(out, dict) and out.get("sensitive") and "value" in out:
                out["value"] = _mask(out["value"], True, found)
    for module in (_dig(doc, "planned_values", "root_module"), _dig(doc, "prior_state", "values", "root_module")):
        _module_values(module, found)
    for rc in _all_resource_changes(doc):
        _change(rc.get("change"), found)
    for oc in (doc.get("output_changes") or {}).values():
        _change(oc, found)
    secrets = sorted((s for s in found if len(s) >= MIN_SECRET_LEN), key=len, reverse=True)
    # Terraform marks a value sensitive only where it knows; the same string copied elsewhere (a literal in
    # `configuration`, an attribute the provider forgot to mark) is removed here as well.
    return (_scrub(doc, Redactor(secrets, SENSITIVE)) if secrets else doc), secrets


def scrub_text(text: str, secrets: list[str]) -> str:
    """Text with each known secret string replaced by "(sensitive value)"."""
    return Redactor(secrets, SENSITIVE)(text)


def _dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _variables(doc: dict, found: set[str]) -> None:
    """Root variables marked sensitive in configuration: their value, and a default written in the code."""
    declared = _dig(doc, "configuration", "root_module", "variables") or {}
    values = doc.get("variables") or {}
    for name, decl in declared.items():
        if not (isinstance(decl, dict) and decl.get("sensitive")):
            continue
        if isinstance(values.get(name), dict) and "value" in values[name]:
            values[name]["value"] = _mask(values[name]["value"], True, found)
        if "default" in decl:
            decl["default"] = _mask(decl["default"], True, found)


def _module_values(module: Any, found: set[str]) -> None:
    """resources[].values against resources[].sensitive_values, in this module and every child module."""
    if not isinstance(module, dict):
        return
    for res in module.get("resources") or []:
        if isinstance(res, dict) and "values" in res:
            res["values"] = _mask(res["values"], res.get("sensitive_values"), found)
    for child in module.get("child_modules") or []:
        _module_values(child, found)


def _all_resource_changes(doc: dict) -> list[dict]:
    changes = [rc for key in ("resource_changes", "resource_drift") for rc in doc.get(key) or []]
    changes += [d["resource_change"] for d in doc.get("deferred_changes") or [] if isinstance(d, dict)
                and isinstance(d.get("resource_change"), dict)]
    return [rc for rc in changes if isinstance(rc, dict)]


def _change(change: Any, found: set[str]) -> None:
    if not isinstance(change, dict):
        return
    for side in ("before", "after"):
        if side in change:
            change[side] = _mask(change[side], change.get(f"{side}_sensitive"), found)


def _mask(value: Any, sensitive: Any, found: set[str]) -> Any:
    """Walks value and its sensitivity tree in parallel; `true` at a node hides the whole subtree."""
    if sensitive is True:
        if value is None:
            return None
        _collect(value, found)
        return SENSITIVE
    if isinstance(sensitive, dict) and isinstance(value, dict):
        return {k: _mask(v, sensitive.get(k), found) for k, v in value.items()}
    if isinstance(sensitive, list) and isinstance(value, list):
        return [_mask(v, sensitive[i] if i < len(sensitive) else None, found) for i, v in enumerate(value)]
    return value


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, found)
    elif isinstance(value, list):
        for v in value:
            _collect(v, found)


def _scrub(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value) if value != SENSITIVE else value
    if isinstance(value, dict):
        return {k: _scrub(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, redact) for v in value]
    return value


def _sensitive_outputs(plan_json: dict) -> set[str]:
    outputs = (plan_json.get("planned_values") or {}).get("outputs") or {}
    names = {n for n, o in outputs.items() if isinstance(o, dict) and o.get("sensitive")}
    changes = plan_json.get("output_changes") or {}
    return names | {n for n, c in changes.items() if isinstance(c, dict) and c.get("after_sensitive") is True}


def redact_outputs(outputs: dict[str, Any], plan_json: dict) -> dict[str, Any]:
    """Outputs after apply, as `terraform output -json` ({name: {sensitive, type, value}}) or plain {name: value},
    with values hidden that Terraform marks sensitive there or in the plan that produced them."""
    sensitive_names = _sensitive_outputs(plan_json)
    redacted: dict[str, Any] = {}
    for name, out in outputs.items():
        if isinstance(out, dict) and "value" in out and (out.get("sensitive") or name in sensitive_names):
            redacted[name] = {**out, "value": SENSITIVE}
        elif name in sensitive_names:
            redacted[name] = SENSITIVE
        else:
            redacted[name] = out
    return redacted
