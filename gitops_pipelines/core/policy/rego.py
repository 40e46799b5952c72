"""Rego policies (OPA's language, evaluated in-process by regopy) on a plan's JSON: `data.gitops.deny` entries
become violations. The default pack ships in `rules/` as package data and runs on every plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.policy.model import Violation

REGO_QUERY = "data.gitops.deny"
BUNDLED_POLICIES = Path(__file__).parent / "rules"  # the default pack: read, copy and extend them


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
