"""The `<unit>/module_refs` check run: each module source that is not a pinned release, annotated at its line."""

from __future__ import annotations

from typing import Any

from gitops_pipelines.core.changes.pinning import CHECK, ModuleRefsResult
from gitops_pipelines.core.github.rendering import check_name
from gitops_pipelines.core.markdown import code_span


def publish_module_refs(gateway: Any, head_sha: str, result: ModuleRefsResult) -> str:
    """Conclude the check on the head; returns its conclusion (`success` or `failure`)."""
    conclusion = "success" if result.passed else "failure"
    if result.passed:
        title = "Every module is a pinned release"
        summary = f"{code_span(result.unit)} uses modules only by release tag or exact version."
    else:
        title = f"{len(result.findings)} module reference(s) to fix"
        summary = (f"{code_span(result.unit)} must use every module from outside its folder by a released tag "
                   "(`?ref=<module>/vX.Y.Z`) or an exact registry version, never a path, branch or copy.")
    gateway.set_check(head_sha, check_name(result.unit, CHECK), "completed", conclusion=conclusion, title=title,
                      summary=summary, text=result.markdown(), annotations=result.annotations())
    return conclusion
