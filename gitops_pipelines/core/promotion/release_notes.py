"""The notes of a GitHub Release: what the version holds (pull requests, the issues they close, why this bump), how
to use a module version, and for a project what production gets (the stored plan, the test deploy, who approved)
and, once deployed, the deploy's result. Titles and names come from pull requests: they are rendered inert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitops_pipelines.core.markdown import code_span, fenced, link, text

if TYPE_CHECKING:
    from gitops_pipelines.core.promotion.releases import UnitRelease

DEPLOYED_MARKER = "<!-- gitops-pipelines:deployed env={env} -->"


@dataclass(frozen=True)
class ProductionFacts:
    """What a project's release takes to production, from the change's materializations."""

    environment: str
    plan_id: str
    plan_summary: str
    tested: str  # the result of the deploy to the environment before
    approved_by: str
    reason: str = ""
    reviewed_by: str = ""  # GitHub approvals of the merged head


def release_notes(release: "UnitRelease", *, repository: str | None, unit_path: str = "",
                  production: ProductionFacts | None = None) -> str:
    lines = [f"## {code_span(release.unit)} {release.version}", "", _why(release), ""]
    if release.previous_tag and repository:
        compare = f"https://github.com/{repository}/compare/{release.previous_tag}...{release.tag}"
        lines += [f"Changes since {code_span(release.previous_tag)}: {link('compare', compare)}", ""]
    elif not release.previous_tag:
        lines += ["The first release.", ""]
    if release.changes:
        lines += ["### Pull requests" if any(c.number for c in release.changes) else "### Changes", ""]
        for change in release.changes:
            by = f" by {text('@' + change.author)}" if change.author else ""
            closes = f", closes {', '.join(f'#{n}' for n in change.closes)}" if change.closes else ""
            number = f" (#{change.number})" if change.number else ""  # 0: a commit, no pull request known
            lines.append(f"- {text(change.title)}{number}{by}{closes}")
        lines.append("")
        issues = sorted({n for change in release.changes for n in change.closes})
        if issues:
            lines += ["### Issues", "", *(f"- #{n}" for n in issues), ""]
    if release.ignored_tags:
        lines += [f"Tags that are not semantic versions were ignored: "
                  f"{', '.join(code_span(t) for t in release.ignored_tags)}.", ""]
    if production is not None:
        lines += _production(production)
    if release.kind == "module" and repository and unit_path:
        source = f"git::https://github.com/{repository}.git//{unit_path.strip('/')}?ref={release.tag}"
        lines += ["### Usage", "", fenced(f'module "{release.unit}" {{\n  source = "{source}"\n}}', "hcl"), ""]
    return "\n".join(lines).rstrip() + "\n"


def _why(release: "UnitRelease") -> str:
    decision = release.bump
    reasons = [f"#{n}: {why}" if n else why.split(",", 1)[-1].strip() for n, why in decision.why.items()]
    said = f"A **{decision.bump}** release" + (f" ({'; '.join(reasons)})." if reasons else
                                               " (no pull request says more).")
    if decision.conflicts:
        said += " Conflicting labels: " + "; ".join(decision.conflicts) + "."
    return said


def _production(facts: ProductionFacts) -> list[str]:
    lines = [f"### What {code_span(facts.environment)} gets", "",
             f"- plan {code_span(facts.plan_id)}: {text(facts.plan_summary)}",
             f"- tested: {text(facts.tested)}" if facts.tested else "- tested: no earlier environment",
             f"- approved for {code_span(facts.environment)} by {text(facts.approved_by)}"
             + (f": {text(facts.reason)}" if facts.reason else "")]
    if facts.reviewed_by:
        lines.append(f"- reviewed on GitHub by {text(facts.reviewed_by)}")
    lines += ["", f"{code_span(facts.environment)} is deployed only with exactly this plan; its result is added "
                  "here.", ""]
    return lines


def deployed_section(body: str, environment: str, summary: str, run_url: str | None, ok: bool) -> str:
    """The Release body with the deploy's result as its last section (an earlier attempt's replaced)."""
    marker = DEPLOYED_MARKER.format(env=environment)
    kept = body.split(marker)[0].rstrip()
    verdict = ":rocket: Deployed" if ok else ":x: The deploy failed"
    run = f" ({link('Dagster run', run_url)})" if run_url else ""
    return f"{kept}\n\n{marker}\n### {verdict} to {code_span(environment)}\n\n{text(summary)}{run}\n"

