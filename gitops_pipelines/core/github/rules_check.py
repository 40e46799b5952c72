"""The `rules` check run on a pull request that edits the rules it would be judged by: which settings and policy
files it changes, that they apply only after the merge, and whose approval it needs."""

from __future__ import annotations

from typing import Any

from gitops_pipelines.core.markdown import code_span, fenced
from gitops_pipelines.core.redact import Redactor

CHECK = "rules"


def publish_rules_check(gateway: Any, head_sha: str, diff: str | None, owners: list[str],
                        redactor: Redactor | None = None) -> None:
    """Mark the head: neutral with the diff when the rules change (a rules owner must approve), else success."""
    redact = redactor or Redactor()
    if diff is None:
        gateway.set_check(head_sha, CHECK, "completed", conclusion="success", title="The rules are main's",
                          summary="This change edits no setting of gitops.yaml and no policy file.")
        return
    who = ", ".join(code_span(o) for o in owners) if owners else "a rules owner (`rules_owners` in gitops.yaml: none set)"
    gateway.set_check(
        head_sha, CHECK, "completed", conclusion="neutral", title="This change edits the rules; they apply after merge",
        summary=(f"This pull request changes settings or policy files that govern how changes are checked, approved "
                 f"and deployed. It is still judged by main's rules; the new ones apply after the merge. Its deploys "
                 f"pass the gate only with an approving review of its head by {who}."),
        text=fenced(redact(diff), "diff"))
