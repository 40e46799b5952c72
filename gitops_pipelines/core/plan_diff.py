"""What differs between an approved plan and a new one, per resource address (pure).

Only what applying would do counts: each resource change's actions and its `after` values, with values Terraform
will only know after the apply (`after_unknown`) compared as "(known after apply)". Timestamps, `planned_values`,
`prior_state`, `before` values and drift are noise here. Sensitive values are compared masked, as a reviewer sees
them: nobody could read the approved value either, so a person has nothing more to go on than this comparison.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from gitops_pipelines.core.github.rendering import code_span
from gitops_pipelines.core.plan_store.redact import SENSITIVE

NO_CHANGE = frozenset({"no-op", "read"})  # actions that change nothing in the infrastructure
MAX_ROWS = 50  # of the markdown table; the rest is counted
MAX_ATTRIBUTES = 10  # listed per resource
MAX_VALUE = 80  # characters of a value shown in the table

DiffKind = Literal["added", "removed", "changed"]


class _Marker:
    """A value no JSON can hold, so a literal string never compares equal to it."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


UNKNOWN = _Marker("(known after apply)")
ABSENT = _Marker("(absent)")


@dataclass(frozen=True)
class AttributeDiff:
    """One attribute path whose planned value differs: `tags.env`, `rule[0].id`, `tags["a b"]`."""

    path: str
    approved: Any
    new: Any


@dataclass(frozen=True)
class ResourceDiff:
    """How one resource address differs: only in the new plan, only in the approved one, or changed in both."""

    address: str
    kind: DiffKind
    approved_actions: tuple[str, ...]
    new_actions: tuple[str, ...]
    attributes: tuple[AttributeDiff, ...] = ()

    @property
    def actions_differ(self) -> bool:
        return self.approved_actions != self.new_actions

    def describe(self) -> str:
        """One line of plain text."""
        if self.kind == "added":
            return f"{self.address}: only in the new plan ({_actions(self.new_actions)})"
        if self.kind == "removed":
            return f"{self.address}: only in the approved plan ({_actions(self.approved_actions)})"
        parts = []
        if self.actions_differ:
            parts.append(f"actions {_actions(self.approved_actions)} -> {_actions(self.new_actions)}")
        parts += [f"{a.path}: {_show(a.approved)} -> {_show(a.new)}" for a in self.attributes]
        return f"{self.address}: " + "; ".join(parts)


@dataclass(frozen=True)
class PlanDiff:
    """Every resource whose planned change differs between the approved plan and the new one, in address order."""

    resources: tuple[ResourceDiff, ...] = ()

    @property
    def identical(self) -> bool:
        """True when both plans make the same resource changes."""
        return not self.resources

    @property
    def added(self) -> list[str]:
        return [r.address for r in self.resources if r.kind == "added"]

    @property
    def removed(self) -> list[str]:
        return [r.address for r in self.resources if r.kind == "removed"]

    @property
    def changed(self) -> list[str]:
        return [r.address for r in self.resources if r.kind == "changed"]

    def resource(self, address: str) -> ResourceDiff | None:
        return next((r for r in self.resources if r.address == address), None)

    def summary(self) -> str:
        """`identical resource changes`, or the counts of added, removed and changed resources."""
        if self.identical:
            return "identical resource changes"
        counts = [(len(self.added), "only in the new plan"), (len(self.removed), "only in the approved plan"),
                  (len(self.changed), "changed")]
        return ", ".join(f"{n} {what}" for n, what in counts if n)

    def markdown(self) -> str:
        """A table for a pull request comment; every address and value is inert code (no mentions, no HTML)."""
        if self.identical:
            return "The new plan makes exactly the same resource changes as the approved plan.\n"
        n = len(self.resources)
        subject = "1 resource differs" if n == 1 else f"{n} resources differ"
        lines = [f"{subject} between the approved plan and the new one ({self.summary()}):", "",
                 "| resource | what differs |", "|---|---|"]
        for r in self.resources[:MAX_ROWS]:
            lines.append(f"| {_cell(code_span(r.address))} | {_cell(_markdown_difference(r))} |")
        if n > MAX_ROWS:
            lines.append(f"| ... | and {n - MAX_ROWS} more resources |")
        return "\n".join(lines) + "\n"


def plan_diff(approved_plan_json: dict, new_plan_json: dict) -> PlanDiff:
    """Per resource address: added / removed (a change in one plan only) and changed (actions or `after` values)."""
    approved, new = _changes(approved_plan_json), _changes(new_plan_json)
    diffs = []
    for address in sorted(set(approved) | set(new)):
        a, b = approved.get(address), new.get(address)
        if a is None and b is None:
            continue
        if a is None:
            diffs.append(ResourceDiff(address, "added", (), b.actions))
        elif b is None:
            diffs.append(ResourceDiff(address, "removed", a.actions, ()))
        else:
            attributes = () if a.after is None or b.after is None else tuple(_differences(a.after, b.after, ""))
            if a.importing != b.importing:
                attributes += (AttributeDiff("(import)", a.importing, b.importing),)
            if a.actions != b.actions or attributes:
                diffs.append(ResourceDiff(address, "changed", a.actions, b.actions, attributes))
    return PlanDiff(tuple(diffs))


# -- reading a plan ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Change:
    actions: tuple[str, ...]
    after: Any  # masked, unknowns resolved
    importing: Any


def _changes(plan_json: dict) -> dict[str, _Change]:
    """The resource changes that do something, by address (a deposed object by address and deposed key)."""
    out: dict[str, _Change] = {}
    for rc in (plan_json or {}).get("resource_changes") or []:
        if not isinstance(rc, dict) or not rc.get("address"):
            continue
        change = rc.get("change") if isinstance(rc.get("change"), dict) else {}
        actions = tuple(change.get("actions") or ())
        importing = change.get("importing")
        if not set(actions) - NO_CHANGE and not importing:
            continue
        address = rc["address"] + (f" (deposed {rc['deposed']})" if rc.get("deposed") else "")
        sensitive = _either(change.get("after_sensitive"), change.get("before_sensitive"))
        out[address] = _Change(actions, _resolve(change.get("after"), change.get("after_unknown"), sensitive),
                               importing)
    return out


def _resolve(value: Any, unknown: Any, sensitive: Any) -> Any:
    """value with unknowns as UNKNOWN and sensitive parts as "(sensitive value)" (the store has masked them
    already; this holds for a JSON from anywhere)."""
    if unknown is True:
        return UNKNOWN
    if sensitive is True:
        return SENSITIVE if value is not None else None
    unknown_d = unknown if isinstance(unknown, dict) else {}
    unknown_l = unknown if isinstance(unknown, list) else []
    sensitive_d = sensitive if isinstance(sensitive, dict) else {}
    sensitive_l = sensitive if isinstance(sensitive, list) else []
    if isinstance(value, dict) or (value is None and any(_has_true(v) for v in unknown_d.values())):
        value = value or {}
        keys = set(value) | {k for k, v in unknown_d.items() if _has_true(v)}
        return {k: _resolve(value.get(k), unknown_d.get(k), sensitive_d.get(k)) for k in keys}
    if isinstance(value, list):
        size = max(len(value), max((i + 1 for i, u in enumerate(unknown_l) if _has_true(u)), default=0))
        return [_resolve(value[i] if i < len(value) else None, unknown_l[i] if i < len(unknown_l) else None,
                         sensitive_l[i] if i < len(sensitive_l) else None) for i in range(size)]
    return value


def _either(a: Any, b: Any) -> Any:
    """The union of two sensitivity trees: a path marked in either one is sensitive."""
    if a is True or b is True:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _either(a.get(k), b.get(k)) for k in set(a) | set(b)}
    if isinstance(a, list) and isinstance(b, list):
        return [_either(a[i] if i < len(a) else None, b[i] if i < len(b) else None)
                for i in range(max(len(a), len(b)))]
    return a if a not in (None, False, {}, []) else b


def _has_true(tree: Any) -> bool:
    if tree is True:
        return True
    if isinstance(tree, dict):
        return any(_has_true(v) for v in tree.values())
    if isinstance(tree, list):
        return any(_has_true(v) for v in tree)
    return False


# -- comparing --------------------------------------------------------------------------------------------------
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _differences(a: Any, b: Any, path: str) -> list[AttributeDiff]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            step = f".{key}" if _NAME.match(key) else f"[{json.dumps(key)}]"
            out += _differences(a.get(key, ABSENT), b.get(key, ABSENT), (path + step) if path else step.lstrip("."))
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = []
        for i in range(max(len(a), len(b))):
            out += _differences(a[i] if i < len(a) else ABSENT, b[i] if i < len(b) else ABSENT, f"{path}[{i}]")
        return out
    return [] if _same(a, b) else [AttributeDiff(path or "(the whole object)", a, b)]


def _same(a: Any, b: Any) -> bool:
    if a in (None, ABSENT) and b in (None, ABSENT):  # an attribute set to null is one left unset
        return True
    if isinstance(a, _Marker) or isinstance(b, _Marker):
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):  # in Python True == 1
        return type(a) is type(b) and a == b
    return a == b


# -- rendering --------------------------------------------------------------------------------------------------
def _actions(actions: tuple[str, ...]) -> str:
    return ", ".join(actions) or "no change"


def _show(value: Any) -> str:
    if isinstance(value, _Marker) or value == SENSITIVE:
        return str(value)
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "\u2026"


def _markdown_difference(r: ResourceDiff) -> str:
    if r.kind == "added":
        return f"only in the new plan: {code_span(_actions(r.new_actions))}"
    if r.kind == "removed":
        return f"only in the approved plan: {code_span(_actions(r.approved_actions))}"
    parts = []
    if r.actions_differ:
        parts.append(f"actions {code_span(_actions(r.approved_actions))} \u2192 {code_span(_actions(r.new_actions))}")
    for a in r.attributes[:MAX_ATTRIBUTES]:
        parts.append(f"{code_span(a.path)}: {code_span(_show(a.approved))} \u2192 {code_span(_show(a.new))}")
    if len(r.attributes) > MAX_ATTRIBUTES:
        parts.append(f"and {len(r.attributes) - MAX_ATTRIBUTES} more attributes")
    return "; ".join(parts)


def _cell(text: str) -> str:
    """A table cell: a `|` ends the cell even inside a code span unless escaped (GitHub unescapes it there)."""
    return text.replace("|", "\\|")


def attribute_changes(change: dict) -> list[str]:
    """`path: before -> after` per attribute of one resource change (a drift entry's `change`), sensitive values
    masked, at most MAX_ATTRIBUTES (the rest counted)."""
    sensitive = _either(change.get("before_sensitive"), change.get("after_sensitive"))
    before = _resolve(change.get("before"), None, sensitive)
    after = _resolve(change.get("after"), change.get("after_unknown"), sensitive)
    found = [f"{d.path}: {_show(d.approved)} -> {_show(d.new)}" for d in _differences(before, after, "")]
    more = len(found) - MAX_ATTRIBUTES
    return found[:MAX_ATTRIBUTES] + ([f"(and {more} more)"] if more > 0 else [])
