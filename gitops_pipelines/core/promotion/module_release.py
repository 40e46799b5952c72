"""A module's next release: the next semantic version from the tags, published as a tag and a GitHub Release."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_pipelines.core.changes.versioning import (bump_from_change, latest_version, module_tag, next_version,
                                                      release_notes)
from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.errors import UsageError
from gitops_pipelines.core.git import git_output, run_git
from gitops_pipelines.core.vocabulary import pr_number


@dataclass(frozen=True)
class ModuleRelease:
    module: str
    version: str
    tag: str
    previous: str | None
    bump: str


def next_module_release(config: GitopsConfig, unit: UnitConfig, bump: str | None = None,
                        tags: list[str] | None = None) -> ModuleRelease:
    """The next `<module>-v<semver>` from the given tags (GitHub's), else the repository's own; the bump is given
    or read from the head commit."""
    root = config.root
    if tags is None:
        tags = git_output(root, "tag", "--list").splitlines()
    if not bump:
        message = git_output(root, "log", "-1", "--format=%B")
        bump = bump_from_change([], "", [message])
    version = next_version(unit.name, tags, bump)
    previous = latest_version(unit.name, tags)
    return ModuleRelease(module=unit.name, version=str(version), tag=module_tag(unit.name, version),
                         previous=str(previous) if previous else None, bump=bump)


def publish_module_release(release: ModuleRelease, sha: str, *, change: str, repo: Path, gateway=None,
                           repository: str | None = None, module_path: str | None = None) -> str | None:
    """Tag `sha` as the release: on GitHub (tag + published Release with notes) when a gateway is given, else as a
    local git tag in the repository. Safe to repeat. Returns the Release's URL, if any."""
    if gateway is None:
        proc = run_git(repo, "tag", release.tag, sha)
        if proc.returncode != 0 and git_output(repo, "rev-list", "-n1", release.tag) != sha:
            raise UsageError(f"{release.module}: cannot tag {sha[:12]} as {release.tag}: {proc.stderr.strip()}")
        return None
    number = pr_number(change) or 0
    notes = release_notes(release.module, release.version, number, f"{release.module} {release.version}",
                          previous=release.previous, repository=repository, module_path=module_path)
    gateway.create_tag(release.tag, sha)
    return gateway.create_release(release.tag, release.tag, notes, sha).html_url

