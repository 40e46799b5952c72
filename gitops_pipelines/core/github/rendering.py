"""What the pipeline says on a pull request: plan comments, check-run summaries and annotations, and after a merge
the apply result, refused deploys and deployment-status lines (pure rendering). Every text from the pull request
or from Terraform is redacted first, then made inert (core/markdown.py), before it is put into markdown."""

from __future__ import annotations

import posixpath
import re
from collections import deque
from collections.abc import Iterable
from itertools import count
from typing import Any

from gitops_pipelines.core.markdown import cell, code_span, fenced, link, plain, text
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.vocabulary import DRIFT, EPHEMERAL_TEST, PLAN, POLICY, SYNTAX

from .comments import parts_of
from .models import CheckOutcome, Comment
from .split import GITHUB_COMMENT_LIMIT, _advance, _Open, split_comment

__all__ = ["GITHUB_COMMENT_LIMIT", "apply_section", "check_name", "check_outcome", "check_summary", "code_span",
           "comment_marker", "failure_summary", "gate_marker", "plan_comment", "refusal_comment", "refusal_resolved",
           "rejoin_parts", "split_comment", "status_description", "syntax_annotations", "with_apply_section"]

MARKER_PREFIX = "gitops-pipelines:"
_SIGN = re.compile(r"^(\s*)(-/\+|\+/-|[+\-~])(\s)")


def comment_marker(unit: str, environment: str) -> str:
    """The hidden HTML marker that identifies the one comment of unit+environment on a pull request."""
    return f"<!-- {MARKER_PREFIX}unit={unit} env={environment} -->"


def check_name(unit: str, stage: str, environment: str | None = None) -> str:
    """The check-run name of a unit's stage, e.g. `storage/plan (test)`: stable, so reruns update the same check."""
    return f"{unit}/{stage}" + (f" ({environment})" if environment else "")


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
    commit = f" for commit {code_span(redact(b.head_sha[:12]))}" if b.head_sha else ""
    planned = getattr(b, "commit", None)
    if planned and b.head_sha and planned != b.head_sha:  # made after the merge: say which code was planned
        commit = f" of merge commit {code_span(planned[:12])} (head {code_span(b.head_sha[:12])})"
    plan_text = redact(plan_result.text).rstrip("\n")
    body = _as_diff(plan_text) if syntax == "diff" else plan_text
    details = link("details", details_url)
    lines = [
        comment_marker(unit, environment),
        f"### Plan for {code_span(redact(unit))} in {code_span(redact(environment))}: {counts}",
        "",
        f"Plan {code_span(record.plan_id[:12])}{commit}, Terraform {code_span(redact(b.terraform_version))} "
        f"· {verdict}" + (f" · {details}" if details else ""),
        "",
        f"<details><summary>Show plan ({len(plan_text.splitlines())} lines)</summary>",
        "",
        fenced(body, syntax),
        "",
        "</details>",
        "",
    ]
    if plan_result.policy_markdown:  # PolicyReport.markdown(): its PR and Terraform texts are inert already
        lines += [redact(plan_result.policy_markdown).rstrip("\n"), ""]
    lines.append(f"<sub>Full plan id {code_span(record.plan_id)}; this comment is updated on each push.</sub>")
    return redact("\n".join(lines) + "\n")


def syntax_annotations(result: Any, unit_path: str = "", *, redactor: Redactor | None = None) -> list[dict]:
    """Check-run annotations for a SyntaxResult: path from the repository root (unit path + file), lines, level.
    Titles and messages are GitHub plain text: redacted, control characters and mentions removed."""
    redact = redactor or Redactor()
    annotations = []
    for d in result.diagnostics:
        if not d.file or not d.line:
            continue  # GitHub needs a path and a line; these stay in the summary
        path = posixpath.normpath(posixpath.join(unit_path or ".", d.file))
        if path.startswith("../"):
            continue
        message = redact((d.summary + (f"\n\n{d.detail}" if d.detail else "")).strip())
        annotations.append({
            "path": path, "start_line": d.line, "end_line": d.line,
            "annotation_level": "failure" if d.severity == "error" else "warning",
            "message": plain(message, 4000) or d.severity,
            "title": plain(redact(d.summary), 255, one_line=True) or d.severity,
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
    render = {SYNTAX: _syntax, EPHEMERAL_TEST: _ephemeral, PLAN: _plan, POLICY: _policy, DRIFT: _drift}
    if stage not in render:
        raise ValueError(f"no check summary for stage {stage!r}; stages: {', '.join(render)}")
    outcome = render[stage](result, unit_path, redact)
    return CheckOutcome(outcome.conclusion, plain(redact(outcome.title), 255, one_line=True), redact(outcome.summary),
                        redact(outcome.text) if outcome.text else None, outcome.annotations)


def check_summary(stage: str, result: Any) -> tuple[str, str, str]:
    """(conclusion, title, summary) of a check run for syntax, ephemeral_test, plan, policy or drift."""
    outcome = check_outcome(stage, result)
    return outcome.conclusion, outcome.title, outcome.summary


def failure_summary(unit: str, stage: object, message: str, *, redactor: Redactor | None = None) -> str:
    """The summary of a check whose stage did not finish: the reason (Terraform's words) fenced, redacted."""
    redact = redactor or Redactor()
    return redact(f"{code_span(redact(unit))}: {stage} did not finish.\n\n{fenced(redact(message)[:60000])}")


def _syntax(result: Any, unit_path: str, redact: Redactor) -> CheckOutcome:
    annotations = tuple(syntax_annotations(result, unit_path, redactor=redact))
    unit = code_span(redact(result.unit))
    if result.passed:
        return CheckOutcome("success", "Formatted and valid", f"{unit} is formatted and valid.",
                            annotations=annotations)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    title = f"{len(errors)} error(s), {len(result.unformatted)} unformatted file(s)"
    lines = [f"{unit} does not pass the syntax check.", ""]
    if result.unformatted:
        lines += ["**Not formatted** (run `terraform fmt -recursive`):",
                  *(f"- {code_span(redact(f))}" for f in result.unformatted), ""]
    if result.diagnostics:
        lines += ["**Diagnostics:**", *(f"- {code_span(redact(str(d)))}" for d in result.diagnostics[:50]), ""]
    diff = redact(result.fmt_diff)
    return CheckOutcome("failure", title, "\n".join(lines), fenced(diff[:60000], "diff") if diff.strip() else None,
                        annotations)


def _ephemeral(result: Any, unit_path: str, redact: Redactor) -> CheckOutcome:
    rows = ["| step | result | detail |", "|---|---|---|"]
    rows += [f"| {cell(text(redact(s.name)))} | {'passed' if s.passed else 'FAILED'} | {_code_cell(redact(s.detail))} |"
             for s in result.steps]
    leak = ""
    if result.leaked:
        leak = "\n\n**Leaked resources, destroy by hand:** " + ", ".join(code_span(redact(a)) for a in result.leaked)
    title = "Ephemeral test passed" if result.passed else "Ephemeral test failed"
    if result.leaked:
        title += f" ({len(result.leaked)} resource(s) leaked)"
    return CheckOutcome("success" if result.passed else "failure", title, "\n".join(rows) + leak)


def _plan(result: Any, unit_path: str, redact: Redactor) -> CheckOutcome:
    s, b = result.record.summary, result.record.binding
    title = (f"{s.add} to add, {s.change} to change, {s.destroy} to destroy, {s.replace} to replace"
             if s.has_changes else "No changes")
    at = f" at {code_span(redact(b.head_sha[:12]))}" if b.head_sha else ""
    summary = (f"Plan {code_span(result.plan_id[:12])} for {code_span(redact(b.unit))} in "
               f"{code_span(redact(b.environment))}{at}: {title.lower()}.\n\n"
               f"The rendered plan is in the pull request comment; full plan id {code_span(result.plan_id)}.")
    return CheckOutcome("success", title, summary)


def _policy(result: Any, unit_path: str, redact: Redactor) -> CheckOutcome:
    errors = sum(1 for v in result.violations if v.get("severity") == "error")
    warnings = sum(1 for v in result.violations if v.get("severity") == "warning")
    if result.policy_passed:
        title = "Policy passed" + (f" with {warnings} warning(s)" if warnings else "")
    else:
        title = f"Policy failed: {errors} error(s)"
    # PolicyReport.markdown() made the rules' and the plan's texts inert
    return CheckOutcome("success" if result.policy_passed else "failure", title, result.policy_markdown or title,
                        annotations=tuple(policy_annotations(result.violations, redactor=redact)))


def policy_annotations(violations: list[dict], *, redactor: Redactor | None = None) -> list[dict]:
    """A check-run annotation per violation whose resource block was found: at its `.tf` file and line (a path
    from the repository root), failure for an error, warning otherwise. GitHub plain text, redacted."""
    redact = redactor or Redactor()
    found = []
    for v in violations:
        if not v.get("file") or not v.get("line") or str(v["file"]).startswith("../"):
            continue
        found.append({
            "path": v["file"], "start_line": int(v["line"]), "end_line": int(v["line"]),
            "annotation_level": "failure" if v.get("severity") == "error" else "warning",
            "title": plain(redact(f"{v.get('rule_id')}: {v.get('address')}"), 255, one_line=True),
            "message": plain(redact(str(v.get("message") or "")), 4000) or str(v.get("rule_id")),
        })
    return found[:50]  # GitHub takes 50 annotations per request


def _drift(result: Any, unit_path: str, redact: Redactor) -> CheckOutcome:
    conclusion = {"drift": "failure", "pending_change": "neutral"}.get(result.status, "success")
    title = {"drift": f"Drift in {len(result.drifted)} resource(s)",
             "pending_change": f"{len(result.pending)} change(s) merged but not applied"}.get(result.status, "No drift")
    where = f"{code_span(redact(result.unit))} in {code_span(redact(result.environment))}"
    addresses = {"drift": result.drifted, "pending_change": result.pending}.get(result.status, [])
    said = {"drift": "drift in", "pending_change": "no drift; code not yet applied changes"}.get(result.status,
                                                                                                 "no drift")
    listed = ", ".join(code_span(redact(a)) for a in addresses)
    return CheckOutcome(conclusion, title, f"{where}: {said}" + (f" {listed}" if listed else "") + ".")


def _code_cell(value: str) -> str:
    return cell(code_span(value[:300])) if value else ""


# -- after the merge: the apply result, refused deploys, deployment statuses ------------------------------------------
APPLIED_START = f"<!-- {MARKER_PREFIX}applied -->"
APPLIED_END = f"<!-- {MARKER_PREFIX}applied-end -->"
APPLY_OUTPUT_LIMIT = 20_000  # the apply section stays small; the plan part keeps the room
APPLY_OUTPUT_OPEN_LINES = 20  # longer output is collapsed
STATUS_DESCRIPTION_LIMIT = 140  # GitHub's limit for a deployment-status description


def gate_marker(unit: str, environment: str) -> str:
    """The hidden marker of the one comment that says why a deploy of unit+environment did not happen."""
    return f"<!-- {MARKER_PREFIX}gate unit={unit} env={environment} -->"


def status_description(text: str, limit: int = STATUS_DESCRIPTION_LIMIT) -> str:
    """One line of at most limit characters (GitHub refuses longer deployment-status descriptions)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "\u2026"


def _fenced(output: str, info: str = "text") -> list[str]:
    body = output.rstrip("\n") or "(no output)"
    if len(body) > APPLY_OUTPUT_LIMIT:
        body = body[:APPLY_OUTPUT_LIMIT].rstrip("\n") + "\n... (cut: the full output is in the run's log)"
    return [fenced(body, info)]


def apply_section(unit: str, environment: str, result_summary: str, plan_id: str, *, ok: bool = True,
                  run_url: str | None = None, redactor: Redactor | None = None) -> str:
    """The "Applied" section of the unit+environment comment: verdict, plan id, run link, and the apply output
    (Terraform's text, fenced) between hidden markers so the next apply replaces it."""
    redact = redactor or Redactor()
    output = redact(str(result_summary)).replace(APPLIED_END, APPLIED_END.replace("<!--", "<!-\u200b-"))
    where = f"{code_span(redact(unit))} in {code_span(redact(environment))}"
    run = link("Dagster run", run_url)
    if ok:
        lines = [f"### :rocket: Applied {where}", "",
                 f"Plan {code_span(plan_id[:12])} was applied" + (f" · {run}" if run else "") + ".", ""]
    else:
        lines = [f"### :x: Apply of {where} failed", "",
                 f"Plan {code_span(plan_id[:12])} did not apply cleanly: Terraform may have changed part of it. "
                 + (f"The {run} has the full log; fix" if run else "Fix") + " the cause and re-execute the deploy.",
                 ""]
    block = _fenced(output)
    n = len(output.splitlines())
    if n > APPLY_OUTPUT_OPEN_LINES:
        block = [f"<details><summary>Apply output ({n} lines)</summary>", "", *block, "", "</details>"]
    return redact("\n".join([APPLIED_START, *lines, *block, APPLIED_END]) + "\n")


def _without_apply_section(content: str) -> str:
    """content without the apply section it starts with (only there: plan text lower down is never taken for it)."""
    if content.startswith(APPLIED_START + "\n"):
        end = content.find("\n" + APPLIED_END + "\n")
        if end != -1:
            return content[end + len(APPLIED_END) + 2:].lstrip("\n")
    return content


def with_apply_section(marker: str, content: str, section: str) -> str:
    """The comment body: marker, then section (replacing an earlier apply section), then the rest (the plan)."""
    rest = _without_apply_section(content.lstrip("\n"))
    return f"{marker}\n{section}" + (f"\n{rest}" if rest.strip() else "")


_PART_HEAD = re.compile(r"\A\s*<!--[^\n]*?-->\n(?:\*\*Part (\d+) of (\d+)\*\*\n\n)?")
_MAX_OPEN = 8  # fence + <details> levels a cut is undone for; deeper nesting is joined as it is


def rejoin_parts(comments: Iterable[Comment], key: str, author: str | None = None) -> str | None:
    """The content (without its marker) of the comment with key as published (by author, when given), its parts
    joined again: the fence and <details> that splitting closed at a cut and reopened in the next part are joined
    back. None: no comment."""
    found = parts_of(comments, key, author)
    if 1 not in found:
        return None
    chunks: list[str] = []
    for i in count(1):
        comment = (found.get(i) or [None])[0]
        head = _PART_HEAD.match(comment.body) if comment else None
        if comment is None or (i > 1 and (head is None or not head.group(2))):
            break  # missing, or a surplus part that says it is no longer used
        chunks.append(comment.body[head.end():] if head else comment.body)
        if head is None or not head.group(2) or i >= int(head.group(2)):
            break
    joined = chunks[0]
    for chunk in chunks[1:]:
        joined = _join_at_cut(joined, chunk)
    return joined


def _join_at_cut(text: str, chunk: str) -> str:
    lines = text.splitlines(keepends=True)
    states: deque[_Open] = deque([_Open()], maxlen=_MAX_OPEN + 2)  # the states after the last lines
    for line in lines:
        states.append(_advance(states[-1], line))
    for m in range(min(len(lines), len(states) - 1), 0, -1):  # the longest closing first: a shorter one matches too
        state = states[-1 - m]  # after all but the last m lines
        if not (state.fence or state.details):
            continue
        tail, reopening = "".join(lines[-m:]), state.reopening()
        if tail == state.closing() and chunk.startswith(reopening):
            return "".join(lines[:-m]) + chunk[len(reopening):]
    return text + chunk


def refusal_comment(unit: str, environment: str, reasons: Iterable[str], what_to_do: str, *,
                    run_url: str | None = None, redactor: Redactor | None = None) -> str:
    """The comment that says a deploy of unit+environment did not happen: why (each reason as code: it may quote
    Terraform or people) and what to do (the pipeline's own words, markdown)."""
    redact = redactor or Redactor()
    listed = [f"- {code_span(redact(str(reason)))}" for reason in reasons] or ["- (no reason was given)"]
    run = link("Dagster run", run_url)
    lines = [gate_marker(unit, environment),
             f"### :no_entry: {code_span(redact(unit))} was not deployed to {code_span(redact(environment))}", "",
             "The deploy did not happen: nothing was applied. Why:", "", *listed, "",
             f"**What to do:** {what_to_do.strip()}", "",
             "<sub>" + (f"{run} · " if run else "") + "This comment is updated each time the deploy is tried.</sub>"]
    return redact("\n".join(lines) + "\n")


def refusal_resolved(unit: str, environment: str, plan_id: str, *, run_url: str | None = None) -> str:
    """What the refusal comment becomes once a later deploy of unit+environment applied (its history keeps why)."""
    run = link("Dagster run", run_url)
    return (f"{gate_marker(unit, environment)}\n"
            f"### :white_check_mark: {code_span(unit)} is now deployed to {code_span(environment)}\n\n"
            f"An earlier deploy was refused (this comment's edit history says why); plan {code_span(plan_id[:12])} "
            "has been applied since" + (f" ({run})" if run else "") + ".\n")
