"""Release versions: tags per repository layout, the bump from the merged pull requests, release notes."""

from __future__ import annotations

import pytest
import semver

from gitops_pipelines.core.changes.versioning import (MergedChange, TagFormat, bump_from_change, decide_bump,
                                                      next_version, parse_tag, tag_format)
from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.errors import UsageError
from gitops_pipelines.core.promotion import ProductionFacts, plan_release
from gitops_pipelines.core.promotion.release_notes import deployed_section, release_notes

SEVERAL = tag_format(None, 2)
TAGS = {
    "bucket/v1.2.0": "a1", "bucket/v1.4.0": "a2", "bucket/v1.3.9": "a3",
    "bucket/v2.0.0-rc.1": "a4",  # a pre-release is not the base of the next release
    "bucket-policy/v7.0.0": "b1",  # another module whose name starts like this one
    "bucket/vnext": "c1", "bucket/v1.5": "c2",  # not semantic versions: ignored, with a warning
    "v9.9.9": "d1", "random": "d2", "network/v0.3.1": "e1",
}


def _config(units: int = 2, **releases) -> GitopsConfig:
    names = ["bucket", "network", "storage"][:units]
    return GitopsConfig.model_validate({
        "environments": [{"name": "test"}, {"name": "prod"}], "releases": releases,
        "units": [{"name": n, "kind": "project" if n == "storage" else "module", "path": f"units/{n}",
                   **({"environments": ["test", "prod"]} if n == "storage" else {})} for n in names]})


def test_the_layout_chooses_the_tag_format():
    assert tag_format(None, 1) == TagFormat("v{version}") and SEVERAL == TagFormat("{unit}/v{version}")
    assert SEVERAL.tag("bucket", semver.Version(1, 4, 0)) == "bucket/v1.4.0"
    assert TagFormat("releases/{unit}-{version}").tag("net", "2.0.0") == "releases/net-2.0.0"
    assert parse_tag("bucket/v1.4.0") == ("bucket", semver.Version(1, 4, 0))
    assert parse_tag("refs/tags/s3-bucket-v2.0.0") == ("s3-bucket", semver.Version(2, 0, 0))  # the older form
    assert parse_tag("bucket/v1.5") is None and parse_tag("v1.2.3") is None


def test_versions_ignore_other_units_and_tags_that_are_not_semver():
    versions, ignored = SEVERAL.versions("bucket", TAGS)
    assert versions[-1] == semver.Version.parse("2.0.0-rc.1") and semver.Version(1, 3, 9) in versions
    assert sorted(ignored) == ["bucket/v1.5", "bucket/vnext"]
    assert SEVERAL.latest("bucket", TAGS) == semver.Version(1, 4, 0)
    assert SEVERAL.latest("bucket-policy", TAGS) == semver.Version(7, 0, 0)
    assert SEVERAL.latest("queue", TAGS) is None
    assert tag_format(None, 1).latest("anything", TAGS) == semver.Version(9, 9, 9)


@pytest.mark.parametrize(("bump", "expected"), [("patch", "1.4.1"), ("minor", "1.5.0"), ("major", "2.0.0")])
def test_next_version_bumps_the_latest_release(bump, expected):
    assert next_version(semver.Version(1, 4, 0), bump) == semver.Version.parse(expected)


def test_the_first_release_is_0_1_0_unless_configured():
    assert next_version(None, "major") == semver.Version(0, 1, 0)
    assert next_version(None, "patch", "1.0.0") == semver.Version(1, 0, 0)
    with pytest.raises(UsageError, match="major, minor, patch"):
        next_version(None, "huge")


def test_each_pull_request_bumps_by_its_label_else_its_title_and_the_release_takes_the_highest():
    fix = MergedChange(3, "fix: wrong tag")
    feat = MergedChange(4, "feat(bucket): lifecycle rules")
    plain = MergedChange(5, "Tidy the README")
    assert decide_bump([fix, plain]).bump == "patch"
    assert decide_bump([fix, feat, plain]).bump == "minor"
    assert decide_bump([MergedChange(6, "Rename a variable", "BREAKING CHANGE: `acl` is gone")]).bump == "major"
    assert decide_bump([MergedChange(7, "refactor!: drop acl")]).bump == "major"
    labelled = decide_bump([MergedChange(8, "feat!: looks breaking", labels=("release:patch",)), fix])
    assert labelled.bump == "patch" and labelled.why[8] == "patch, labelled release:patch"  # the label wins
    assert decide_bump([]).bump == "patch"


def test_conflicting_labels_the_highest_wins_and_it_is_said():
    both = decide_bump([MergedChange(9, "fix: x", labels=("release:minor", "Release:Major", "bug"))])
    assert both.bump == "major"
    assert both.conflicts == ("#9 is labelled release:minor, release:major: the highest, major, counts",)
    custom = decide_bump([MergedChange(1, "x", labels=("semver-minor",))],
                         {"major": "semver-major", "minor": "semver-minor", "patch": "semver-patch"})
    assert custom.bump == "minor"


def test_a_change_without_a_pull_request_bumps_by_its_commit_messages():
    assert bump_from_change([], "Update bucket", ["fix: typo", "feat: x\n\nBREAKING CHANGE: y"]) == "major"
    assert bump_from_change(["release:minor"], "feat!: x", []) == "minor"


def test_plan_release_continues_from_the_last_version_and_a_re_run_is_the_same_release():
    config = _config()
    unit = config.unit("bucket")
    release = plan_release(config, unit, TAGS, "m1", [MergedChange(12, "feat: versioning", closes=(11,))])
    assert (release.version, release.tag, release.previous_tag) == ("1.5.0", "bucket/v1.5.0", "bucket/v1.4.0")
    assert not release.existing and sorted(release.ignored_tags) == ["bucket/v1.5", "bucket/vnext"]
    again = plan_release(config, unit, {**TAGS, "bucket/v1.5.0": "m1"}, "m1", [MergedChange(12, "feat: x")])
    assert again.existing and again.tag == "bucket/v1.5.0" and again.previous_tag == "bucket/v1.4.0"
    chosen = plan_release(config, unit, TAGS, "m1", bump="major")
    assert chosen.version == "2.0.0" and "chosen by the person" in chosen.bump.summary()


def test_tag_format_is_checked_against_the_layout():
    with pytest.raises(ValueError, match=r"names no \{unit\}"):
        _config(2, tag_format="v{version}")
    with pytest.raises(ValueError, match=r"has no \{version\}"):
        _config(1, tag_format="release")
    with pytest.raises(ValueError, match="not a semantic version"):
        _config(1, first_version="1.0")
    single = _config(1)
    assert plan_release(single, single.unit("bucket"), {}, "m1").tag == "v0.1.0"


def test_module_notes_list_the_pull_requests_their_issues_and_the_pinned_source():
    config = _config()
    changes = [MergedChange(12, "feat: lifecycle rules <!-- @team", author="dev", closes=(11, 10)),
               MergedChange(13, "fix: tags", labels=("release:minor", "release:patch"), closes=(11,))]
    release = plan_release(config, config.unit("bucket"), TAGS, "m1", changes)
    notes = release_notes(release, repository="acme/infra", unit_path="units/bucket")
    assert notes.startswith("## `bucket` 1.5.0\n") and "A **minor** release" in notes
    assert "Conflicting labels: #13 is labelled release:patch, release:minor" in notes
    assert "https://github.com/acme/infra/compare/bucket/v1.4.0...bucket/v1.5.0" in notes
    assert "(#12)" in notes and "closes #11, #10" in notes and "lifecycle rules \\<!--" in notes  # inert
    assert "### Issues\n\n- #10\n- #11\n" in notes
    assert 'source = "git::https://github.com/acme/infra.git//units/bucket?ref=bucket/v1.5.0"' in notes
    assert "bucket/vnext" in notes  # the ignored tags are named


def test_project_notes_say_what_production_gets_and_the_deploy_is_added_once():
    config = _config(3)
    release = plan_release(config, config.unit("storage"), {}, "m1", [MergedChange(2, "Add a logs bucket")])
    facts = ProductionFacts("prod", "ab" * 32, "1 to add, 0 to change, 0 to destroy, 0 to replace",
                            "storage/test: plan 0123 applied (state serial 3)", "alice", "CHG-7", "alice")
    notes = release_notes(release, repository="acme/infra", unit_path="units/storage", production=facts)
    assert "The first release." in notes and release.tag == "storage/v0.1.0" and "### Usage" not in notes
    assert f"plan `{'ab' * 32}`: 1 to add" in notes and "tested: storage/test: plan 0123 applied" in notes
    assert "approved for `prod` by alice: CHG\\-7" in notes or "approved for `prod` by alice: CHG-7" in notes
    once = deployed_section(notes, "prod", "storage/prod: plan ab applied", "http://dagster/runs/1", True)
    twice = deployed_section(once, "prod", "storage/prod: plan ab applied again", None, True)
    assert twice.count("Deployed to `prod`") == 1 and "applied again" in twice and twice.startswith(notes.rstrip())
