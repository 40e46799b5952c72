"""Semantic versions of units: their git tags, and the next version from the pull requests merged since the last one.

A tag is `{unit}/v{version}` where gitops.yaml lists several units and `v{version}` where it lists one (or
`releases.tag_format`). The bump of a release is the highest of its merged pull requests' bumps; each pull request's
bump is its `release:<bump>` label (names configurable; several labels: the highest counts, and the notes say so),
else its Conventional Commits title (`feat` minor, `fix` patch, `!` or `BREAKING CHANGE` major), else patch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import semver

from gitops_pipelines.core.errors import UsageError

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("patch", "minor", "major")  # in increasing order of weight
FIRST_RELEASE = semver.Version(0, 1, 0)
SEVERAL_UNITS, ONE_UNIT = "{unit}/v{version}", "v{version}"
DEFAULT_LABELS: Mapping[Bump, str] = {"major": "release:major", "minor": "release:minor", "patch": "release:patch"}

# A module reference's `?ref=` names the module it releases: `bucket/v1.4.0`, or the older `bucket-v1.4.0`
# (greedy on the module part: in `net-v2-v1.0.0` the module is `net-v2`).
_NAMED_TAG = re.compile(r"^(?P<module>.+?)/v(?P<version>\d+\.\d+\.\d+\S*)$|^(?P<dashed>.+)-v(?P<dversion>\d+\.\d+\.\d+\S*)$")
# Conventional Commits header: `type(scope)!: subject`.
_HEADER = re.compile(r"^(?P<type>[A-Za-z]+)(?:\([^)]*\))?(?P<bang>!)?:\s")
_BREAKING = re.compile(r"^BREAKING[ -]CHANGE:", re.MULTILINE)


def parse_tag(tag: str) -> tuple[str, semver.Version] | None:
    """`bucket/v1.4.0` (or `bucket-v1.4.0`) -> ("bucket", Version(1, 4, 0)); None for any other tag."""
    match = _NAMED_TAG.match(tag.strip().removeprefix("refs/tags/"))
    if not match:
        return None
    module, version = (match["module"], match["version"]) if match["module"] else (match["dashed"],
                                                                                   match["dversion"])
    try:
        return module, semver.Version.parse(version)
    except ValueError:
        return None


@dataclass(frozen=True)
class TagFormat:
    """`{unit}/v{version}`-style pattern: the tag of a version, and the versions a list of tags holds."""

    pattern: str

    def tag(self, unit: str, version: semver.Version | str) -> str:
        return self.pattern.replace("{unit}", unit).replace("{version}", str(version))

    def _regex(self, unit: str) -> re.Pattern[str]:
        escaped = re.escape(self.pattern).replace(re.escape("{unit}"), re.escape(unit))
        return re.compile("^" + escaped.replace(re.escape("{version}"), "(?P<version>.+)") + "$")

    def versions(self, unit: str, tags: Iterable[str]) -> tuple[list[semver.Version], list[str]]:
        """The unit's released versions, oldest first, and its tags that are not semantic versions (ignored)."""
        regex, found, ignored = self._regex(unit), set(), []
        for tag in tags:
            match = regex.match(tag.strip().removeprefix("refs/tags/"))
            if match is None:
                continue
            try:
                found.add(semver.Version.parse(match["version"]))
            except ValueError:
                ignored.append(tag)
        return sorted(found), ignored

    def latest(self, unit: str, tags: Iterable[str]) -> semver.Version | None:
        """The highest released version (pre-releases are not the base of the next one), None before the first."""
        versions = [v for v in self.versions(unit, tags)[0] if not v.prerelease]
        return versions[-1] if versions else None


def tag_format(pattern: str | None, units: int) -> TagFormat:
    """The configured pattern, else the one for the repository's layout (one unit or several)."""
    return TagFormat(pattern or (ONE_UNIT if units == 1 else SEVERAL_UNITS))


def next_version(current: semver.Version | None, bump: str, first: semver.Version | str = FIRST_RELEASE
                 ) -> semver.Version:
    """The version after `current` for a bump; `first` when nothing was released yet."""
    bump = check_bump(bump)
    if current is None:
        return first if isinstance(first, semver.Version) else semver.Version.parse(first)
    return {"major": current.bump_major, "minor": current.bump_minor, "patch": current.bump_patch}[bump]()


@dataclass(frozen=True)
class MergedChange:
    """One pull request merged since the previous release, as the release notes and the bump read it."""

    number: int
    title: str
    body: str = ""
    labels: tuple[str, ...] = ()
    author: str = ""
    closes: tuple[int, ...] = ()  # the issues it names (Fixes #N)


@dataclass(frozen=True)
class BumpDecision:
    bump: Bump
    why: dict[int, str] = field(default_factory=dict)  # per pull request: what chose its bump
    conflicts: tuple[str, ...] = ()  # pull requests labelled with several bumps

    def summary(self) -> str:
        deciding = [f"#{n}: {reason}" for n, reason in self.why.items() if reason.startswith(self.bump)]
        return f"{self.bump} ({'; '.join(deciding)})" if deciding else self.bump


def decide_bump(changes: Iterable[MergedChange], labels: Mapping[str, str] = DEFAULT_LABELS) -> BumpDecision:
    """The release's bump: the highest of its pull requests' bumps (patch when there are none)."""
    names = {label.strip().lower(): bump for bump, label in labels.items()}
    bump: Bump = "patch"
    why: dict[int, str] = {}
    conflicts: list[str] = []
    for change in changes:
        labelled = sorted({names[n.strip().lower()] for n in change.labels if n.strip().lower() in names},
                          key=BUMPS.index)
        if labelled:
            found: Bump = labelled[-1]
            why[change.number] = f"{found}, labelled {labels[found]}"
            if len(labelled) > 1:
                conflicts.append(f"#{change.number} is labelled {', '.join(labels[b] for b in labelled)}: the "
                                 f"highest, {found}, counts")
        else:
            found = _bump_of_message(f"{change.title}\n\n{change.body}")
            if _HEADER.match(change.title.strip()) and not (found == "major" and "!" not in change.title):
                why[change.number] = f"{found}, from its conventional title"
            elif found == "major":
                why[change.number] = "major, BREAKING CHANGE in its description"
            else:
                why[change.number] = "patch, no release label and no conventional title"
        if BUMPS.index(found) > BUMPS.index(bump):
            bump = found
    return BumpDecision(bump, why, tuple(conflicts))


def bump_from_change(labels: list[str], title: str, commit_messages: list[str]) -> Bump:
    """How big a release one change is when no pull request is known: a release label wins, else the highest
    Conventional Commits bump of its title and commit messages, else patch."""
    names = {label.lower(): bump for bump, label in DEFAULT_LABELS.items()}
    labelled = [names[n.strip().lower()] for n in labels if n.strip().lower() in names]
    if labelled:
        return max(labelled, key=BUMPS.index)
    return max((_bump_of_message(m or "") for m in [title, *commit_messages]), key=BUMPS.index)


def _bump_of_message(message: str) -> Bump:
    header = message.strip().splitlines()[0] if message.strip() else ""
    match = _HEADER.match(header)
    if (match and match["bang"]) or _BREAKING.search(message):
        return "major"
    if match and match["type"].lower() == "feat":
        return "minor"
    return "patch"


def check_bump(bump: str) -> Bump:
    if bump not in BUMPS:
        raise UsageError(f"unknown version bump {bump!r}; use one of: major, minor, patch")
    return bump  # type: ignore[return-value]
