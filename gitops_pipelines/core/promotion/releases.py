"""A unit's release: the next semantic version from the pull requests merged since its last one, published as an
annotated git tag on the merge commit and a GitHub Release whose notes say what it holds.

A module is released by itself after its merge (once the promotion gate holds for the merged head); a project when
a person approves its production plan, and its production deploy then adds its result to the Release. Safe to
repeat: a commit that already carries the unit's version tag is that release, never a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitops_pipelines.core.changes.detection import affected_units
from gitops_pipelines.core.changes.versioning import (BumpDecision, MergedChange, check_bump, decide_bump,
                                                      next_version, tag_format)
from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.errors import UsageError
from gitops_pipelines.core.git import git_output, run_git
from gitops_pipelines.core.github.work_item import DEFAULT_PATTERNS, referenced_issues
from gitops_pipelines.core.promotion.release_notes import ProductionFacts, deployed_section, release_notes


@dataclass(frozen=True)
class UnitRelease:
    """One version of one unit, before or after it is published."""

    unit: str
    kind: str
    version: str
    tag: str
    previous_tag: str | None
    bump: BumpDecision
    changes: tuple[MergedChange, ...] = ()
    ignored_tags: tuple[str, ...] = ()  # the unit's tags that are not semantic versions
    existing: bool = False  # the commit already carries this tag: a re-run of the same release
    url: str = ""


def plan_release(config: GitopsConfig, unit: UnitConfig, tags: Mapping[str, str], sha: str,
                 changes: Iterable[MergedChange] = (), *, bump: str | None = None) -> UnitRelease:
    """The release of `unit` at commit `sha`, from the repository's tags (name -> commit) and the pull requests
    merged since the last release. `bump` (a person's choice) overrides what the pull requests say."""
    fmt = tag_format(config.releases.tag_format, len(config.units))
    versions, ignored = fmt.versions(unit.name, tags)
    changes = tuple(changes)
    here = [v for v in versions if tags.get(fmt.tag(unit.name, v)) == sha]
    current = fmt.latest(unit.name, {t: s for t, s in tags.items() if s != sha})
    previous = fmt.tag(unit.name, current) if current else None
    if bump:
        decision = BumpDecision(check_bump(bump), {0: f"{bump}, chosen by the person who launched the release"})
    else:
        decision = decide_bump(changes, config.releases.labels.model_dump())
    if here:  # released before at this very commit: the same release again
        version = here[-1]
        return UnitRelease(unit.name, unit.kind, str(version), fmt.tag(unit.name, version), previous, decision,
                           changes, tuple(ignored), existing=True)
    version = next_version(current, decision.bump, config.releases.first_version)
    return UnitRelease(unit.name, unit.kind, str(version), fmt.tag(unit.name, version), previous, decision, changes,
                       tuple(ignored))


def prepare_release(config: GitopsConfig, unit: UnitConfig, sha: str, *, repo: Path, gateway: Any = None,
                    bump: str | None = None) -> UnitRelease:
    """The release of `unit` at `sha`: GitHub's tags and the pull requests merged since the unit's last release;
    without GitHub the repository's own tags and the commit's message."""
    tags = {t.name: t.sha for t in gateway.tags()} if gateway is not None else local_tags(repo)
    previous = plan_release(config, unit, tags, sha, bump="patch").previous_tag
    if gateway is None:
        message = git_output(repo, "log", "-1", "--format=%B", sha)
        changes = [MergedChange(0, message.split("\n", 1)[0], message)]
    else:
        patterns = config.github.work_item_patterns if config.github else DEFAULT_PATTERNS
        changes = merged_changes(gateway, config, unit, repo, sha, tags.get(previous) if previous else None,
                                 patterns)
    return plan_release(config, unit, tags, sha, changes, bump=bump)


def merged_changes(gateway: Any, config: GitopsConfig, unit: UnitConfig, repo: Path, sha: str,
                   previous_sha: str | None, patterns: Iterable[str]) -> list[MergedChange]:
    """The pull requests merged into main that reach `sha` and not `previous_sha` (the last release) and touch the
    unit, oldest first; each with the issues its description closes."""
    main = config.github.main_branch if config.github else None
    found = []
    for pull in gateway.merged_pulls(base=main):
        if not _reaches(repo, pull.merge_commit_sha, sha) or (
                previous_sha and _reaches(repo, pull.merge_commit_sha, previous_sha)):
            continue
        if unit.name not in {u.name for u in affected_units(config, gateway.changed_files(pull.number))}:
            continue
        found.append(MergedChange(pull.number, pull.title, pull.body or "", tuple(pull.labels), pull.author,
                                  tuple(referenced_issues(pull.body, patterns))))
    return sorted(found, key=lambda c: c.number)


def _reaches(repo: Path, ancestor: str | None, sha: str) -> bool:
    return bool(ancestor) and run_git(repo, "merge-base", "--is-ancestor", ancestor, sha).returncode == 0


def publish_release(release: UnitRelease, sha: str, *, repo: Path, gateway: Any = None,
                    repository: str | None = None, unit_path: str = "",
                    production: ProductionFacts | None = None) -> UnitRelease:
    """An annotated tag on `sha` and, with GitHub, a published Release with the notes; without GitHub only the
    local tag. Nothing is moved when the tag exists at another commit: the release fails and says so."""
    notes = release_notes(release, repository=repository, unit_path=unit_path, production=production)
    message = f"{release.unit} {release.version}\n\n{release.bump.summary()}"
    if gateway is None:
        _local_tag(repo, release, sha, message)
        return release
    gateway.create_annotated_tag(release.tag, sha, message)
    published = gateway.create_release(release.tag, f"{release.unit} {release.version}", notes, sha)
    return replace(release, url=published.html_url)


def record_deploy(gateway: Any, tag: str, environment: str, summary: str, run_url: str | None,
                  ok: bool = True) -> str | None:
    """Add the deploy's result to the Release of `tag` (replacing an earlier attempt's); its URL, or None when
    there is no such Release."""
    release = gateway.release_by_tag(tag)
    if release is None:
        return None
    body = deployed_section(release.body, environment, summary, run_url, ok)
    return gateway.update_release(release.id, body).html_url


def _local_tag(repo: Path, release: UnitRelease, sha: str, message: str) -> None:
    existing = git_output(repo, "rev-list", "-n1", release.tag) if run_git(
        repo, "rev-parse", "-q", "--verify", f"refs/tags/{release.tag}").returncode == 0 else None
    if existing == sha:
        return
    if existing:
        raise UsageError(f"{release.unit}: tag {release.tag} already exists at {existing[:12]}, not at {sha[:12]}; "
                         "nothing was moved. Delete it if it is wrong, or release the next version")
    proc = run_git(repo, "-c", "user.name=gitops-pipelines", "-c", "user.email=gitops-pipelines@localhost",
                   "tag", "-a", "-m", message, release.tag, sha)
    if proc.returncode != 0:
        raise UsageError(f"{release.unit}: cannot tag {sha[:12]} as {release.tag}: {proc.stderr.strip()}")


def local_tags(repo: Path) -> dict[str, str]:
    """The repository's own tags (name -> commit), for a release made without GitHub."""
    out = git_output(repo, "for-each-ref", "--format=%(refname:short) %(*objectname) %(objectname)", "refs/tags")
    tags = {}
    for line in out.splitlines():
        name, *shas = line.split()
        tags[name] = shas[0]
    return tags

