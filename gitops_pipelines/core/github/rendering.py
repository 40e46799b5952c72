"""What the pipeline says on a pull request: plan comments, check-run summaries and annotations (pure rendering)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Any

from gitops_pipelines.core.redact import Redactor

from .models import CheckOutcome
from .split import GITHUB_COMMENT_LIMIT, split_comment

__all__ = ["GITHUB_COMMENT_LIMIT", "check_name", "check_outcome", "check_summary", "comment_marker", "plan_comment",
           "split_comment", "syntax_annotations"]

MARKER_PREFIX = "gitops-pipelines:"
STAGES = ("syntax", "ephemeral", "plan", "policy", "drift")
_SIGN = re.compile(r"^(\s*)(-/\+|\+/-|[+\-~])(\s)")


def comment_marker(unit: str, environment: str) -> str:
    """The hidden HTML marker that identifies the one comment of unit+environment on a pull request."""
    return f"<!-- {MARKER_PREFIX}unit={unit} env={environment} -->"


def check_name(unit: str, stage: str, environment: str | None = None) -> str:
    """The check-run name of a unit's stage, e.g. `storage/plan (test)`: stable, so reruns update the same check."""
    return f"{unit}/{stage}" + (f" ({environment})" if environment else "")


def _fence_for(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    return "`" * max(3, longest + 1)


def _as_diff(text: str) -> str:
    """Terraform's indented +/-/~ markers moved to column 0 so GitHub's diff highlighting colours them."""
    out = []
    for line in text.splitlines():
        match = _SIGN.match(line)
        if not match:
            out.append(line)
            continue
        sign = {"~": "!", "-/+": "!", "+/-": "!"}.get(match.group(2), match.group(2))
        out.append(sign + match.group(1) + line[match.end(2):])
    return "\n".join(out)


def plan_comment(unit: str, environment: str, plan_result: Any, *, secrets: Iterable[str] = (),
                 redactor: Redactor | None = None, syntax: str = "diff", details_url: str | None = None) -> str:
    """The PR comment for one unit and environment: marker, counts and plan id, policy verdict, and the rendered
    plan collapsed in <details>. Every text passes through the redactor (plus secrets) on the way out."""
    redact = (redactor.child(secrets) if redactor else Redactor(secrets))
    record = plan_result.record
    s, b = record.summary, record.binding
    counts = f"{s.add} to add, {s.change} to change, {s.destroy} to destroy, {s.replace} to replace"
    if not s.has_changes:
        counts = "no changes"
    verdict = ":white_check_mark: policy passed" if plan_result.policy_passed else ":x: policy failed"
    commit = f" for commit `{b.head_sha[:12]}`" if b.head_sha else ""
    text = plan_result.text.rstrip("\n")
    body = _as_diff(text) if syntax == "diff" else text
    fence = _fence_for(body)
    lines = [
        comment_marker(unit, environment),
        f"### Plan for `{unit}` in `{environment}`: {counts}",
        "",
        f"Plan `{record.plan_id[:12]}`{commit}, Terraform {b.terraform_version} · {verdict}"
        + (f" · [details]({details_url})" if details_url else ""),
        "",
        f"<details><summary>Show plan ({len(text.splitlines())} lines)</summary>",
        "",
        f"{fence}{syntax}",
        body,
        fence,
        "",
        "</details>",
        "",
    ]
    if plan_result.policy_markdown:
        lines += [plan_result.policy_markdown.rstrip("\n"), ""]
    lines.append(f"<sub>Full plan id `{record.plan_id}`; this comment is updated on each push.</sub>")
    return redact("\n".join(lines) + "\n")


def syntax_annotations(result: Any, unit_path: str = "") -> list[dict]:
    """Check-run annotations for a SyntaxResult: path from the repository root (unit path + file), lines, level."""
    annotations = []
    for d in result.diagnostics:
        if not d.file or not d.line:
            continue  # GitHub needs a path and a line; these stay in the summary
        path = posixpath.normpath(posixpath.join(unit_path or ".", d.file))
        if path.startswith("../"):
            continue
        message = (d.summary + (f"\n\n{d.detail}" if d.detail else "")).strip()
        annotations.append({
            "path": path, "start_line": d.line, "end_line": d.line,
            "annotation_level": "failure" if d.severity == "error" else "warning",
            "message": message[:4000] or d.severity, "title": d.summary[:255] or d.severity,
        })
    for name in result.unformatted:
        annotations.append({
            "path": posixpath.normpath(posixpath.join(unit_path or ".", name)), "start_line": 1, "end_line": 1,
            "annotation_level": "failure", "title": "Not formatted",
            "message": "This file is not in canonical format: run `terraform fmt -recursive` and push.",
        })
    return annotations


def check_outcome(stage: str, result: Any, *, unit_path: str = "", redactor: Redactor | None = None) -> CheckOutcome:
    """Conclusion, title, markdown summary, optional text and annotations for one stage's result."""
    redact = redactor or Redactor()
    render = {"syntax": _syntax, "ephemeral": _ephemeral, "plan": _plan, "policy": _policy, "drift": _drift}
    if stage not in render:
        raise ValueError(f"no check summary for stage {stage!r}; stages: {', '.join(render)}")
    outcome = render[stage](result, unit_path)
    return CheckOutcome(outcome.conclusion, redact(outcome.title), redact(outcome.summary),
                        redact(outcome.text) if outcome.text else None, outcome.annotations)


def check_summary(stage: str, result: Any) -> tuple[str, str, str]:
    """(conclusion, title, summary) of a check run for syntax, ephemeral, plan, policy or drift."""
    outcome = check_outcome(stage, result)
    return outcome.conclusion, outcome.title, outcome.summary


def _syntax(result: Any, unit_path: str) -> CheckOutcome:
    annotations = tuple(syntax_annotations(result, unit_path))
    if result.passed:
        return CheckOutcome("success", "Formatted and valid", f"`{result.unit}` is formatted and valid.",
                            annotations=annotations)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    title = f"{len(errors)} error(s), {len(result.unformatted)} unformatted file(s)"
    lines = [f"`{result.unit}` does not pass the syntax check.", ""]
    if result.unformatted:
        lines += ["**Not formatted** (run `terraform fmt -recursive`):", *(f"- `{f}`" for f in result.unformatted), ""]
    if result.diagnostics:
        lines += ["**Diagnostics:**", *(f"- {d}" for d in result.diagnostics[:50]), ""]
    text = f"```diff\n{result.fmt_diff[:60000]}\n```" if result.fmt_diff.strip() else None
    return CheckOutcome("failure", title, "\n".join(lines), text, annotations)


def _ephemeral(result: Any, unit_path: str) -> CheckOutcome:
    rows = ["| step | result | detail |", "|---|---|---|"]
    rows += [f"| {s.name} | {'passed' if s.passed else 'FAILED'} | {_cell(s.detail)} |" for s in result.steps]
    leak = ""
    if result.leaked:
        leak = "\n\n**Leaked resources, destroy by hand:** " + ", ".join(f"`{a}`" for a in result.leaked)
    title = "Ephemeral test passed" if result.passed else "Ephemeral test failed"
    if result.leaked:
        title += f" ({len(result.leaked)} resource(s) leaked)"
    return CheckOutcome("success" if result.passed else "failure", title, "\n".join(rows) + leak)


def _plan(result: Any, unit_path: str) -> CheckOutcome:
    s, b = result.record.summary, result.record.binding
    title = (f"{s.add} to add, {s.change} to change, {s.destroy} to destroy, {s.replace} to replace"
             if s.has_changes else "No changes")
    summary = (f"Plan `{result.plan_id[:12]}` for `{b.unit}` in `{b.environment}`"
               + (f" at `{b.head_sha[:12]}`" if b.head_sha else "") + f": {title.lower()}.\n\n"
               f"The rendered plan is in the pull request comment; full plan id `{result.plan_id}`.")
    return CheckOutcome("success", title, summary)


def _policy(result: Any, unit_path: str) -> CheckOutcome:
    errors = sum(1 for v in result.violations if v.get("severity") == "error")
    warnings = sum(1 for v in result.violations if v.get("severity") == "warning")
    if result.policy_passed:
        title = "Policy passed" + (f" with {warnings} warning(s)" if warnings else "")
    else:
        title = f"Policy failed: {errors} error(s)"
    return CheckOutcome("success" if result.policy_passed else "failure", title, result.policy_markdown or title)


def _drift(result: Any, unit_path: str) -> CheckOutcome:
    conclusion = {"drift": "failure", "pending_change": "neutral"}.get(result.status, "success")
    title = {"drift": f"Drift in {len(result.drifted)} resource(s)",
             "pending_change": f"{len(result.pending)} change(s) merged but not applied"}.get(result.status, "No drift")
    return CheckOutcome(conclusion, title, result.summary())


def _cell(text: str) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")[:300]
