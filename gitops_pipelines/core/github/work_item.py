"""The work-item rule: a pull request must reference an existing issue (`Fixes #N`, or a configured pattern)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from gitops_pipelines.core.settings import WORK_ITEM_PATTERNS as DEFAULT_PATTERNS
from gitops_pipelines.core.vocabulary import WORK_ITEM

from .models import CheckOutcome

if TYPE_CHECKING:
    from .gateway import GitHubGateway
    from .models import PullRequest

CHECK_NAME = WORK_ITEM


def referenced_issues(body: str | None, patterns: Iterable[str] = DEFAULT_PATTERNS) -> list[int]:
    """Issue numbers the body references through any pattern (group 1 is the number), each once, in order."""
    found: dict[int, None] = {}
    for pattern in patterns:
        for match in re.finditer(pattern, body or ""):
            digits = match.group(1) if match.groups() else re.sub(r"\D", "", match.group(0))
            if digits and digits.isdigit():
                found.setdefault(int(digits), None)
    return sorted(found, key=list(found).index)


def work_item_outcome(body: str | None, patterns: Iterable[str], issue_exists: Callable[[int], bool]) -> CheckOutcome:
    """Success when the body references at least one existing issue; otherwise a failure saying how to fix it."""
    patterns = list(patterns)
    numbers = referenced_issues(body, patterns)
    how = ("Add `Fixes #N` (or `Closes #N`) to the pull request description, where N is the issue this change "
           "works on; the check runs again when the description changes.")
    if not numbers:
        return CheckOutcome("failure", "No work item referenced",
                            f"This pull request does not reference an issue.\n\n{how}")
    existing = [n for n in numbers if issue_exists(n)]
    if existing:
        refs = ", ".join(f"#{n}" for n in existing)
        return CheckOutcome("success", f"Work item {refs}", f"This pull request works on {refs}.")
    missing = ", ".join(f"#{n}" for n in numbers)
    return CheckOutcome("failure", f"Work item {missing} does not exist",
                        f"The description references {missing}, but no such issue exists in this repository "
                        f"(a pull request number is not a work item).\n\n{how}")


def check_work_item(gateway: "GitHubGateway", pull: "PullRequest", patterns: Iterable[str] = DEFAULT_PATTERNS,
                    *, report: bool = True) -> CheckOutcome:
    """Evaluate the rule for pull against GitHub; when report, set the `work_item` check run on its head commit."""
    outcome = work_item_outcome(pull.body, patterns, gateway.issue_exists)
    if report:
        gateway.set_check(pull.head_sha, CHECK_NAME, "completed", conclusion=outcome.conclusion,
                          title=outcome.title, summary=outcome.summary)
    return outcome
