"""Rego policies (OPA's language, evaluated in-process by regopy) on a plan's JSON, with conftest's conventions, so
a policy written for `conftest test` works here as it is.

- Files: every `*.rego` under the folder (its `*_test.rego` unit tests are not policies); `*.json`, `*.yaml` and
  `*.yml` files beside them are data, merged under `data` as conftest does (`--data`).
- Rule sets per namespace (`main` by default, more configurable): `deny` and `violation` fail the plan, `warn` is
  reported. An entry is a message string, or an object with `msg` (and optionally `address`/`resource`, `rule`).
- The default pack (`rules/`, run by pack.py) is package `gitops`: its entries may also set `severity` and `rule`.
- `input` is the plan JSON; `data.gitops_context.environment` is the environment, `data.gitops_context.production`
  whether it is a production one.
- A file that does not compile is a failing violation naming the file and line; the other files still run. A rule
  set that errors when evaluated is a failing violation too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.policy.model import Violation, is_production

BUNDLED_POLICIES = Path(__file__).parent / "rules"  # the default pack: read, copy and extend them
BUNDLED_NAMESPACE = "gitops"
RULE_SETS = {"deny": "error", "violation": "error", "warn": "warning"}
COMPILE_RULE, EVALUATION_RULE = "policy-compile", "policy-error"


def policy_files(folder: str | Path) -> list[Path]:
    """The policy files under a folder, sorted: every `*.rego` but the `*_test.rego` unit tests."""
    return sorted(p for p in Path(folder).rglob("*.rego") if not p.name.endswith("_test.rego"))


def rego_violations(plan: dict[str, Any], environment: str, folder: str | Path,
                    namespaces: Iterable[str] = ("main",), files: list[Path] | None = None) -> list[Violation]:
    """Evaluate every policy file under `folder` (or the `files` already listed there) on the plan; each
    deny/violation/warn entry is a violation."""
    root = Path(folder)
    files = policy_files(root) if files is None else files
    if not files:
        return []
    try:
        from regopy import Interpreter
    except ImportError:
        raise ConfigError("Rego policies need the regopy package: pip install regopy", file=str(folder)) from None
    found, good = [], []
    for file in files:
        problem = _compile_problem(Interpreter, root, file)
        if problem is None:
            good.append(file)
        else:
            found.append(Violation(COMPILE_RULE, "error", "", problem))
    if not good:
        return found
    rego = Interpreter()
    for file in good:
        rego.add_module(str(file.relative_to(root)), file.read_text(encoding="utf-8"))
    rego.add_data_json(json.dumps({**policy_data(root), "gitops_context": {"environment": environment,
                                                                 "production": is_production(environment)}}))
    rego.set_input_term(json.dumps(plan))
    for namespace in dict.fromkeys([BUNDLED_NAMESPACE, *namespaces]):
        for rule_set, severity in RULE_SETS.items():
            query = f"data.{namespace}.{rule_set}"
            try:
                entries = _query(rego, query)
            except _PolicyError as exc:
                found.append(Violation(EVALUATION_RULE, "error", "", f"{query} failed: {exc}"))
                continue
            found += [_violation(entry, namespace, rule_set, severity) for entry in entries]
    return sorted(found, key=lambda v: (v.rule_id, v.address, v.message))


def policy_data(root: Path) -> dict[str, Any]:
    """The data files under the policy folder, merged (later files win on the same top-level key)."""
    data: dict[str, Any] = {}
    for path in sorted([*root.rglob("*.json"), *root.rglob("*.yaml"), *root.rglob("*.yml")]):
        try:
            loaded = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"policy data is not valid {path.suffix[1:].upper()}: {exc}", file=str(path)) from None
        if isinstance(loaded, dict):
            data.update(loaded)
    return data


class _PolicyError(Exception):
    pass


def _query(rego: Any, query: str) -> list[Any]:
    from regopy import RegoError

    try:
        output = rego.query(query)
    except RegoError as exc:
        raise _PolicyError(_first_line(str(exc))) from None
    except ValueError as exc:  # regopy could not read its own result (seen with sprintf("%s") of a concat)
        raise _PolicyError(f"a result that is not JSON ({exc}); build messages with concat") from None
    if not output.ok():
        raise _PolicyError(_first_line(str(output)))
    text = str(output)
    if text == "undefined":
        return []
    expressions = json.loads(text).get("expressions") or []
    value = expressions[0] if expressions else []
    return value if isinstance(value, list) else [value]


def _compile_problem(interpreter: Any, root: Path, file: Path) -> str | None:
    """None when the file compiles on its own; else `file:line: what` for the report."""
    from regopy import RegoError

    source = file.read_text(encoding="utf-8")
    name = str(file.relative_to(root))
    probe = interpreter()
    try:
        probe.add_module(name, source)
        probe.query("data")
    except RegoError as exc:
        return f"{name}:{_line(str(exc), name, source)}: does not compile: {_message(str(exc))}"
    return None


def _line(error: str, name: str, source: str) -> int:
    """regopy names an error's place as `<name>|<offset>|<length>`: the offset's line, 1-based."""
    marker = f"{name}|"
    at = error.find(marker)
    if at < 0:
        return 1
    offset = error[at + len(marker):].split("|", 1)[0]
    return source[: int(offset)].count("\n") + 1 if offset.isdigit() else 1


def _message(error: str) -> str:
    start = error.find("(errormsg ")
    if start < 0:
        return _first_line(error)
    rest = error[start + len("(errormsg "):]
    return rest.split(":", 1)[-1].split(")", 1)[0].strip()


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text.strip())[:300]


def _violation(entry: Any, namespace: str, rule_set: str, severity: str) -> Violation:
    default_rule = "rego" if namespace == BUNDLED_NAMESPACE else f"{namespace}.{rule_set}"
    if not isinstance(entry, dict):
        return Violation(default_rule, severity, "", str(entry))
    if namespace == BUNDLED_NAMESPACE and entry.get("severity") in ("error", "warning"):
        severity = entry["severity"]
    message = entry.get("msg") or entry.get("message") or json.dumps(entry, sort_keys=True)
    address = entry.get("address") or entry.get("resource") or ""
    rule = entry.get("rule") or entry.get("id") or default_rule
    return Violation(str(rule), severity, str(address), str(message))  # type: ignore[arg-type]
