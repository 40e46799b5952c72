"""Module releases: `<module>-v<semver>` tags, the next version from a change, and release notes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal

import semver

from gitops_pipelines.core.errors import UsageError

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")  # in increasing order of weight
FIRST_RELEASE = semver.Version(0, 1, 0)

# Greedy on the module part: in `net-v2-v1.0.0` the module is `net-v2`.
_TAG = re.compile(r"^(?P<module>.+)-v(?P<version>\d+\.\d+\.\d+\S*)$")
# Conventional Commits header: `type(scope)!: subject`.
_HEADER = re.compile(r"^(?P<type>[A-Za-z]+)(?:\([^)]*\))?(?P<bang>!)?:\s")
_BREAKING = re.compile(r"^BREAKING[ -]CHANGE:", re.MULTILINE)
_LABEL = re.compile(r"^release:(major|minor|patch)$", re.IGNORECASE)


def module_tag(module: str, version: semver.Version | str) -> str:
    """The git tag of one module release: `bucket-v1.4.0`."""
    return f"{module}-v{version}"


def parse_tag(tag: str) -> tuple[str, semver.Version] | None:
    """`bucket-v1.4.0` -> ("bucket", Version(1, 4, 0)); None for anything that is not a module release tag."""
    match = _TAG.match(tag.strip().removeprefix("refs/tags/"))
    if not match:
        return None
    try:
        return match["module"], semver.Version.parse(match["version"])
    except ValueError:
        return None


def module_versions(module: str, tags: Iterable[str]) -> list[semver.Version]:
    """Every released version of one module, oldest first; tags of other modules and invalid tags are ignored."""
    found = {parsed[1] for parsed in map(parse_tag, tags) if parsed and parsed[0] == module}
    return sorted(found)


def latest_version(module: str, tags: Iterable[str], *, include_prerelease: bool = False) -> semver.Version | None:
    """The highest released version of a module, or None before its first release."""
    versions = [v for v in module_versions(module, tags) if include_prerelease or not v.prerelease]
    return versions[-1] if versions else None


def next_version(module: str, existing_tags: list[str], bump: str) -> semver.Version:
    """The version the next release of `module` gets: 0.1.0 first (1.0.0 if the first bump is major)."""
    bump = _check_bump(bump)
    current = latest_version(module, existing_tags)
    if current is None:
        return semver.Version(1, 0, 0) if bump == "major" else FIRST_RELEASE
    return {"major": current.bump_major, "minor": current.bump_minor, "patch": current.bump_patch}[bump]()


def bump_from_change(labels: list[str], title: str, commit_messages: list[str]) -> Bump:
    """How big a release a change is: a `release:<bump>` label wins, else Conventional Commits, else patch."""
    labelled = [m.group(1).lower() for m in (_LABEL.match(label.strip()) for label in labels) if m]
    if labelled:
        return max(labelled, key=BUMPS.index)  # type: ignore[return-value]
    bump: Bump = "patch"
    for message in [title, *commit_messages]:
        found = _bump_of_message(message or "")
        if BUMPS.index(found) > BUMPS.index(bump):
            bump = found
    return bump


def _bump_of_message(message: str) -> Bump:
    header = message.strip().splitlines()[0] if message.strip() else ""
    match = _HEADER.match(header)
    if (match and match["bang"]) or _BREAKING.search(message):
        return "major"
    if match and match["type"].lower() == "feat":
        return "minor"
    return "patch"


def _check_bump(bump: str) -> Bump:
    if bump not in BUMPS:
        raise UsageError(f"unknown version bump {bump!r}; use one of: major, minor, patch")
    return bump  # type: ignore[return-value]


def release_notes(
    module: str,
    version: semver.Version | str,
    pr_number: int,
    title: str,
    plan_ids: Mapping[str, str] | Iterable[str] = (),
    *,
    previous: semver.Version | str | None = None,
    repository: str | None = None,
    module_path: str | None = None,
    commits: Iterable[str] = (),
) -> str:
    """Markdown for the GitHub Release of one module version: what changed, the PR, the plans it was tested with."""
    tag = module_tag(module, version)
    pr = f"[#{pr_number}](https://github.com/{repository}/pull/{pr_number})" if repository else f"#{pr_number}"
    lines = [f"## {module} {version}", "", f"{title.strip()} ({pr})", ""]
    if previous is not None:
        prev_tag = module_tag(module, previous)
        if repository:
            lines.append(f"Changes since {previous}: https://github.com/{repository}/compare/{prev_tag}...{tag}")
        else:
            lines.append(f"Previous release: `{prev_tag}`")
        lines.append("")
    subjects = [c.strip().splitlines()[0] for c in commits if c and c.strip()]
    if subjects:
        lines += ["### Commits", "", *(f"- {s}" for s in subjects), ""]
    items = list(plan_ids.items()) if isinstance(plan_ids, Mapping) else [(None, p) for p in plan_ids]
    if items:
        lines += ["### Plans", ""]
        lines += [f"- {label}: `{pid}`" if label else f"- `{pid}`" for label, pid in items]
        lines.append("")
    if repository and module_path:
        lines += [
            "### Usage",
            "",
            "```hcl",
            f'module "{module}" {{',
            f'  source = "git::https://github.com/{repository}.git//{module_path.strip("/")}?ref={tag}"',
            "}",
            "```",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"
