"""Drift is told on GitHub: one issue per unit and environment while the infrastructure differs from its state,
opened (or the open one updated) with the drift report and a link to the run, and closed with a comment when the
drift is gone. The bot's issue is the open one it opened with its marker; anyone else's is left alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitops_pipelines.core.markdown import code_span, link, text
from gitops_pipelines.core.redact import Redactor

DRIFT_LABEL = "drift"


def drift_marker(unit: str, environment: str) -> str:
    return f"<!-- gitops-pipelines:drift unit={unit} env={environment} -->"


def drift_issue_title(unit: str, environment: str) -> str:
    return f"Drift: {unit} in {environment} differs from its Terraform state"


def drift_issue_body(result: Any, run_url: str | None, redact: Redactor | None = None) -> str:
    """The drift report: each address changed outside Terraform with its attributes, what the code would change,
    and what to do. Values come from the cloud: redacted and put in code."""
    redact = redact or Redactor()
    unit, env = code_span(result.unit), code_span(result.environment)
    lines = [drift_marker(result.unit, result.environment),
             f"### :warning: {unit} in {env} was changed outside Terraform", "",
             f"The refresh-only plan of the latest drift check found {len(result.drifted)} resource(s) that differ "
             "from the state:", ""]
    for address in result.drifted:
        lines.append(f"- {code_span(redact(address))}")
        lines += [f"  - {code_span(redact(change))}" for change in (result.changes or {}).get(address, [])]
    if result.pending:
        lines += ["", "Merged code that is not applied yet would also change: "
                  + ", ".join(code_span(redact(a)) for a in result.pending)]
    if not getattr(result, "policy_passed", True):
        lines += ["", ":no_entry: The security policy denies the plan that would undo it (main's code):", ""]
        lines += [f"- {code_span(redact(v))}" for v in result.policy_violations]
    lines += ["", "**What to do:** undo the change by hand, or bring it into the code through a pull request "
                  "(approved and deployed like any change). This issue is closed by the first drift check that "
                  "finds no drift.", ""]
    if run_url:
        lines.append(f"<sub>Last checked by {link('this Dagster run', run_url)}.</sub>")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class DriftIssue:
    action: str  # opened | updated | closed | none
    number: int | None = None

    def describe(self, unit: str, environment: str) -> str:
        if self.action == "none":
            return f"{unit}/{environment}: the drift issues are as they were"
        return f"{unit}/{environment}: drift issue #{self.number} {self.action}"


def publish_drift(gateway: Any, result: Any, run_url: str | None, redact: Redactor | None = None) -> DriftIssue:
    """Open, update or close the unit+environment's drift issue from one drift result."""
    if result.status == "locked":  # not checked: what the issue says stays as it is
        return DriftIssue("none")
    marker = drift_marker(result.unit, result.environment)
    ours = next((i for i in gateway.bot_issues(DRIFT_LABEL) if i.body.lstrip().startswith(marker)), None)
    if result.status == "drift":
        body = drift_issue_body(result, run_url, redact)
        if ours is None:
            return DriftIssue("opened", gateway.open_issue(drift_issue_title(result.unit, result.environment),
                                                           body, [DRIFT_LABEL]))
        gateway.edit_issue(ours.number, body=body)
        return DriftIssue("updated", ours.number)
    if ours is None:
        return DriftIssue("none")
    run = f" ({link('Dagster run', run_url)})" if run_url else ""
    gateway.comment(ours.number, f"The drift is gone: the latest drift check of {code_span(result.unit)} in "
                                 f"{code_span(result.environment)} found none{run}. {text('Closing.')}")
    gateway.edit_issue(ours.number, state="closed", state_reason="completed")
    return DriftIssue("closed", ours.number)
