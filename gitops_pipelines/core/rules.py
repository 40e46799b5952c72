"""The rules a change is judged by come from main, never from the change itself.

A pull request could otherwise waive the policy that denies its own plan, rewrite the Rego files, point an
environment's endpoint (and with it the credentials) at a host of its choosing, or lower the approvals it needs.
So everything that governs trust is read from gitops.yaml and the policy folder at the tip of the main branch:
environments (credentials, endpoints, backend, auto_apply, approvals, approvers), policy settings and waivers, the
plan store, the ephemeral sandbox, GitHub settings. Only the units (which folders hold Terraform code) and that code
come from the commit under test. A change that edits the rules is marked and needs a rules owner's approval; its
new rules apply after the merge.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

import yaml

from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.errors import ConfigError


def judged_config(rules: GitopsConfig, code_config: Path) -> GitopsConfig:
    """`rules` (main's gitops.yaml) with the units declared by the gitops.yaml at `code_config` (the commit under
    test), rooted there so each unit's code is the head's. The head's file is read raw: no `${VAR}` is expanded
    from it, so it cannot pull a secret into anything shown."""
    source = str(code_config)
    try:
        raw = yaml.safe_load(code_config.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the units of the commit under test: {exc}", file=source) from None
    listed = raw.get("units") if isinstance(raw, dict) else None
    if not isinstance(listed, list) or not listed:
        raise ConfigError("declares no `units`", file=source, field="units")
    units = []
    known = {e.name for e in rules.environments}
    for i, entry in enumerate(listed):
        try:
            unit = UnitConfig.model_validate(entry)
        except ValueError as exc:
            raise ConfigError(f"not a valid unit: {_first_error(exc)}", file=source, field=f"units[{i}]") from None
        unknown = [env for env in unit.environments or [] if env not in known]
        if unknown:
            raise ConfigError(f"unit {unit.name!r} names environments main does not have: {', '.join(unknown)}; "
                              "environments are rules and change on main first", file=source,
                              field=f"units[{i}].environments")
        if not (code_config.parent / unit.path).is_dir():
            raise ConfigError(f"unit {unit.name!r}: folder {unit.path!r} does not exist", file=source,
                              field=f"units[{i}].path")
        units.append(unit)
    return rules.model_copy(update={"units": units, "root": code_config.parent.resolve(), "rules_root": rules.root})


def rules_fingerprint(config_path: Path, policy_dir: str | None) -> dict[str, str]:
    """What the rules are made of, file by file: gitops.yaml without its units, and each policy file (sha256)."""
    found = {config_path.name: _settings_text(config_path)}
    if policy_dir:
        folder = config_path.parent / policy_dir
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                found[str(path.relative_to(config_path.parent))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def rules_diff(main_config: Path, code_config: Path, policy_dir: str | None) -> str | None:
    """None when the commit under test keeps main's rules; else what it changes: a diff of the settings of
    gitops.yaml (units left out) and the policy files added, removed or changed."""
    main, code = rules_fingerprint(main_config, policy_dir), rules_fingerprint(code_config, policy_dir)
    if main == code:
        return None
    lines = []
    name = main_config.name
    if main.get(name) != code.get(name):
        lines += difflib.unified_diff((main.get(name) or "").splitlines(), (code.get(name) or "").splitlines(),
                                      f"main/{name}", f"change/{name}", lineterm="")
    for path in sorted((set(main) | set(code)) - {name}):
        if path not in code:
            lines.append(f"policy file removed: {path}")
        elif path not in main:
            lines.append(f"policy file added: {path}")
        elif main[path] != code[path]:
            lines.append(f"policy file changed: {path}")
    return "\n".join(lines)


def _settings_text(config_path: Path) -> str:
    """gitops.yaml as settings, units removed, in a stable form (comments and key order do not count)."""
    try:
        raw = yaml.safe_load(config_path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return config_path.read_text(errors="replace") if config_path.exists() else ""
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "units"}
    return yaml.safe_dump(raw, sort_keys=True, default_flow_style=False)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return str(exc)


def rules_change(config: GitopsConfig) -> str | None:
    """What the commit under test changes in the rules it is judged by (see rules_diff), for a workspace opened
    with main's rules; None when it changes nothing or when both are the same checkout."""
    if config.rules_root is None or config.rules_root.resolve() == config.root.resolve():
        return None
    name = Path(config.source).name
    return rules_diff(config.rules_root / name, config.root / name, config.policy.rego_dir)
