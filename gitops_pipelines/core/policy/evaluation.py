"""Security policy on every plan: the default pack (Rego files in `rules/`, see pack.py) and the repository's own
Rego policies (conftest style: see rego.py) over `terraform show -json`.

`evaluate` runs them, drops what the `allow` set and the dated waivers waive, and fails the plan when an `error`
remains. Waivers are `<rule id>` (the whole rule) or `<rule id>:<address glob>`. Python rules (a `Rule` over a
`PlanView`) can be passed instead of the default pack, for a check Rego cannot express.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from gitops_pipelines.core.policy.model import PlanView, PolicyReport, Rule, Violation
from gitops_pipelines.core.policy.pack import active_rules, pack_violations
from gitops_pipelines.core.policy.rego import BUNDLED_POLICIES, policy_files, rego_violations


def evaluate(
    plan_json: dict[str, Any] | str,
    environment: str,
    allow: Iterable[str] = (),
    *,
    rules: Iterable[Rule] | None = None,
    rego_dir: str | Path | None = None,
    namespaces: Iterable[str] = ("main",),
    waivers: Iterable[Any] = (),
    today: datetime.date | None = None,
    required_tags: Iterable[str] = (),
) -> PolicyReport:
    """Run the default pack (or the Python `rules` given instead) and the Rego policies in `rego_dir` on one plan
    of one environment; `required_tags` switches the pack's required-tags rule on."""
    plan = json.loads(plan_json) if isinstance(plan_json, str) else plan_json
    found: list[Violation] = []
    if rules is None:
        tags = tuple(dict.fromkeys(t for t in required_tags if t))
        found += pack_violations(plan, environment, tags)
        ran = active_rules(tags)
    else:
        python_rules = list(rules)
        view = PlanView.of(plan, environment)
        for rule in python_rules:
            found += rule.run(view)
        ran = [r.id for r in python_rules]
    if rego_dir is not None and Path(rego_dir).resolve() != BUNDLED_POLICIES.resolve():
        files = policy_files(rego_dir)
        if files:  # a folder with no policies (or only their unit tests) runs nothing and is not listed
            found += rego_violations(plan, environment, rego_dir, namespaces, files=files)
            ran.append(f"rego:{Path(rego_dir).name}")
    listed = [a for a in allow if a]
    today = today or datetime.date.today()
    dated = list(waivers)
    active = [w for w in dated if w.expires >= today]
    used = [w for w in active if any(_dated_waives(w, v) for v in found)]
    kept = [v for v in found if not _waived(v, listed) and not any(_dated_waives(w, v) for w in active)]
    allowed = [v for v in found if v not in kept]
    return PolicyReport(
        violations=kept,
        passed=not any(v.severity == "error" for v in kept),
        allowed=allowed,
        environment=environment,
        rules=ran,
        waivers=[_describe(w, "until") for w in used],
        expired=[_describe(w, "expired after") for w in dated if w.expires < today],
    )


def _dated_waives(waiver: Any, violation: Violation) -> bool:
    return waiver.rule == violation.rule_id and fnmatchcase(violation.address, waiver.address)


def _describe(waiver: Any, when: str) -> str:
    return f"`{waiver.rule}` on `{waiver.address}` {when} {waiver.expires.isoformat()}: {waiver.reason}"


def _waived(violation: Violation, waivers: list[str]) -> bool:
    for waiver in waivers:
        rule_id, sep, pattern = waiver.partition(":")
        if rule_id != violation.rule_id:
            continue
        if not sep or fnmatchcase(violation.address, pattern):
            return True
    return False
