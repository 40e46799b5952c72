"""Module release versions: tags, bumps from a pull request, release notes."""

from __future__ import annotations

import pytest
import semver

from gitops_pipelines.core.errors import UsageError
from gitops_pipelines.core.changes.versioning import (
    bump_from_change,
    latest_version,
    module_tag,
    next_version,
    parse_tag,
    release_notes,
)

TAGS = [
    "bucket-v1.2.0",
    "bucket-v1.4.0",
    "bucket-v1.3.9",
    "bucket-v2.0.0-rc.1",  # a pre-release is not the base of the next release
    "bucket-policy-v7.0.0",  # another module whose name starts like this one
    "bucket-vnext",
    "bucket-v1.5",
    "v9.9.9",
    "random",
    "",
    "network-v0.3.1",
]


def test_parse_and_format_tags():
    assert parse_tag("bucket-v1.4.0") == ("bucket", semver.Version(1, 4, 0))
    assert parse_tag("refs/tags/s3-bucket-v2.0.0") == ("s3-bucket", semver.Version(2, 0, 0))
    assert parse_tag("net-v2-v1.0.0") == ("net-v2", semver.Version(1, 0, 0))
    assert parse_tag("bucket-v1.5") is None
    assert parse_tag("bucket-v01.2.3") is None
    assert parse_tag("v1.2.3") is None
    assert module_tag("bucket", semver.Version(1, 4, 0)) == "bucket-v1.4.0"


def test_latest_version_ignores_other_modules_invalid_tags_and_prereleases():
    assert latest_version("bucket", TAGS) == semver.Version(1, 4, 0)
    assert latest_version("bucket", TAGS, include_prerelease=True) == semver.Version.parse("2.0.0-rc.1")
    assert latest_version("bucket-policy", TAGS) == semver.Version(7, 0, 0)
    assert latest_version("queue", TAGS) is None


@pytest.mark.parametrize(
    ("bump", "expected"), [("patch", "1.4.1"), ("minor", "1.5.0"), ("major", "2.0.0")]
)
def test_next_version_bumps_the_latest_release(bump, expected):
    assert next_version("bucket", TAGS, bump) == semver.Version.parse(expected)


@pytest.mark.parametrize(("bump", "expected"), [("patch", "0.1.0"), ("minor", "0.1.0"), ("major", "1.0.0")])
def test_first_release(bump, expected):
    assert next_version("queue", TAGS, bump) == semver.Version.parse(expected)
    assert next_version("queue", [], bump) == semver.Version.parse(expected)


def test_next_version_from_zero_major():
    assert next_version("network", TAGS, "minor") == semver.Version(0, 4, 0)


def test_unknown_bump_is_a_usage_error():
    with pytest.raises(UsageError, match="major, minor, patch"):
        next_version("bucket", TAGS, "huge")


def test_release_label_wins_over_commits():
    assert bump_from_change(["release:patch"], "feat!: drop the old variable", ["feat!: x"]) == "patch"
    assert bump_from_change(["bug", "release:minor"], "fix: typo", []) == "minor"
    assert bump_from_change(["release:minor", "Release:Major"], "fix: typo", []) == "major"


@pytest.mark.parametrize(
    ("title", "commits", "expected"),
    [
        ("feat!: rename bucket variable", [], "major"),
        ("refactor(bucket)!: drop acl input", [], "major"),
        ("Update bucket", ["fix: typo", "feat: add versioning\n\nBREAKING CHANGE: `acl` is gone"], "major"),
        ("Update bucket", ["chore: x\n\nBREAKING-CHANGE: y"], "major"),
        ("feat(bucket): add lifecycle rules", ["fix: tests"], "minor"),
        ("Add lifecycle rules", ["fix: a", "Feat: b"], "minor"),
        ("fix: wrong tag", ["docs: readme"], "patch"),
        ("Bump things", [], "patch"),
        ("feature: not a conventional type", ["this is not a BREAKING CHANGE: mid-sentence"], "patch"),
        ("", [""], "patch"),
    ],
)
def test_bump_from_conventional_commits(title, commits, expected):
    assert bump_from_change([], title, commits) == expected


def test_release_notes_markdown():
    notes = release_notes(
        "bucket",
        semver.Version(1, 5, 0),
        42,
        "feat(bucket): add lifecycle rules",
        {"ephemeral test plan": "sha256:abc"},
        previous="1.4.0",
        repository="org/infra",
        module_path="modules/bucket",
        commits=["feat: add lifecycle rules\n\nlong body", "fix: tests"],
    )
    assert notes.startswith("## bucket 1.5.0\n")
    assert "feat(bucket): add lifecycle rules ([#42](https://github.com/org/infra/pull/42))" in notes
    assert "https://github.com/org/infra/compare/bucket-v1.4.0...bucket-v1.5.0" in notes
    assert "- feat: add lifecycle rules\n- fix: tests" in notes and "long body" not in notes
    assert "- ephemeral test plan: `sha256:abc`" in notes
    assert 'source = "git::https://github.com/org/infra.git//modules/bucket?ref=bucket-v1.5.0"' in notes


def test_release_notes_minimal():
    notes = release_notes("network", "0.1.0", 7, "First network module", ["p1", "p2"])
    assert notes == "## network 0.1.0\n\nFirst network module (#7)\n\n### Plans\n\n- `p1`\n- `p2`\n"
