"""parse_event against GitHub's real example payloads (octokit/webhooks), checked first against octokit's schemas."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError
from referencing import Registry

from gitops_pipelines.core.github.events import (
    HANDLED_EVENTS,
    ZERO_SHA,
    InvalidEventPayload,
    PingEvent,
    PullRequestEvent,
    PushEvent,
    ReleaseEvent,
    ReviewEvent,
    is_handled,
    parse_event,
)
from gitops_pipelines_tests.conftest import GITHUB_CONTRACT_DIR

# Module level because the examples parametrize tests at collection time; the same folder the `github_contract`
# session fixture reads (../shared/github-contract beside the checkout, or $GITOPS_GITHUB_CONTRACT).
CONTRACT = GITHUB_CONTRACT_DIR
EXAMPLES = sorted((CONTRACT / "webhooks").glob("*/*.json"))
SCHEMAS = CONTRACT / "webhook-schemas" / "octokit" / "payload-schemas" / "api.github.com"
GHES_TAG_PUSH = "push/tag-created.ghes-3.5.json"
EXPECTED_TYPES = {
    "pull_request": PullRequestEvent,
    "pull_request_review": ReviewEvent,
    "push": PushEvent,
    "release": ReleaseEvent,
    "ping": PingEvent,
}


def example_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def load(name: str) -> dict:
    return json.loads((CONTRACT / "webhooks" / name).read_text())


@pytest.fixture(scope="module")
def schema_registry(github_contract) -> Registry:
    """Every octokit payload schema keyed by its `$id` (the session contract builds the registry once)."""
    assert github_contract.octokit_schema_dir == SCHEMAS
    return github_contract.octokit_registry


def schema_errors(registry: Registry, example: Path) -> list[jsonschema.ValidationError]:
    event_dir = SCHEMAS / example.parent.name
    # push and ping have one schema for the event; the others one per action
    schema_file = event_dir / "event.schema.json"
    if not schema_file.exists():
        schema_file = event_dir / f"{example.stem}.schema.json"
    validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()), registry=registry)
    return list(validator.iter_errors(json.loads(example.read_text())))


def test_every_contract_example_is_found():
    assert {p.parent.name for p in EXAMPLES} == {
        "pull_request", "pull_request_review", "push", "release", "ping", "check_run", "check_suite", "issue_comment",
    }  # fmt: skip
    assert len(EXAMPLES) == 20


@pytest.mark.parametrize("example", [p for p in EXAMPLES if example_id(p) != GHES_TAG_PUSH], ids=example_id)
def test_example_matches_octokit_schema(schema_registry, example):
    assert schema_errors(schema_registry, example) == []


def test_ghes_tag_push_fails_only_dotcom_fields(schema_registry):
    """The GHES 3.5 payload predates five github.com-only repository fields and carries `enterprise`.

    (The contract README counts six failures; five are `required`, the sixth is additionalProperties: `enterprise`.)
    """
    errors = schema_errors(schema_registry, CONTRACT / "webhooks" / GHES_TAG_PUSH)
    required = sorted(e.message for e in errors if e.validator == "required")
    others = [(e.validator, e.message) for e in errors if e.validator != "required"]
    assert all(list(e.absolute_path) == ["repository"] for e in errors if e.validator == "required")
    assert required == sorted(
        f"'{name}' is a required property"
        for name in ("custom_properties", "is_template", "topics", "visibility", "web_commit_signoff_required")
    )
    assert others == [("additionalProperties", "Additional properties are not allowed ('enterprise' was unexpected)")]


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_every_example_parses(example):
    event = example.parent.name
    parsed = parse_event(event, json.loads(example.read_text()))
    if event in EXPECTED_TYPES:
        assert isinstance(parsed, EXPECTED_TYPES[event])
    else:
        assert parsed is None


def test_handled_events_table():
    assert HANDLED_EVENTS == set(EXPECTED_TYPES)
    assert is_handled("push") and not is_handled("check_run") and not is_handled("")


def test_pull_request_opened():
    pr = parse_event("pull_request", load("pull_request/opened.json"))
    assert pr == PullRequestEvent(
        action="opened",
        number=2,
        head_sha="ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        head_ref="changes",
        base_sha="f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
        base_ref="master",
        merged=False,
        merge_commit_sha=None,
        title="Update the README with new information.",
        body="This is a pretty simple change that we need to pull into master.",
        author="Codertocat",
        repository="Codertocat/Hello-World",
        head_repository="Codertocat/Hello-World",
        fork=False,
        labels=("bug",),
    )
    assert pr.partition_key == "pr-2"


def test_pull_request_closed_without_merge():
    pr = parse_event("pull_request", load("pull_request/closed.json"))
    assert pr.action == "closed" and pr.merged is False


def test_pull_request_closed_merged():
    # no real merged=true example exists (see the contract README): derive one from the real closed payload
    payload = load("pull_request/closed.json")
    payload["pull_request"]["merged"] = True
    pr = parse_event("pull_request", payload)
    assert pr.merged is True and pr.merge_commit_sha == "c4295bd74fb0f4fda03689c3df3f2803b658fd85"


def test_pull_request_labels_and_synchronize():
    assert parse_event("pull_request", load("pull_request/labeled.json")).labels == ("bug",)
    assert parse_event("pull_request", load("pull_request/synchronize.json")).action == "synchronize"


def test_review_submitted():
    review = parse_event("pull_request_review", load("pull_request_review/submitted.json"))
    assert review == ReviewEvent(
        action="submitted",
        number=2,
        state="commented",
        reviewer="Codertocat",
        commit_id="ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        submitted_at=datetime(2019, 5, 15, 15, 20, 38, tzinfo=timezone.utc),
        head_sha="ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        base_ref="master",
        repository="Codertocat/Hello-World",
        head_repository="Codertocat/Hello-World",
        fork=False,
    )


def _from_fork(payload: dict, full_name: str | None) -> dict:
    """A real payload whose head branch is in another repository (None: the fork was deleted since)."""
    head = payload["pull_request"]["head"]
    head["repo"] = None if full_name is None else {**head["repo"], "full_name": full_name, "fork": True}
    return payload


@pytest.mark.parametrize("event, example", [("pull_request", "pull_request/opened.json"),
                                            ("pull_request_review", "pull_request_review/submitted.json")])
def test_a_head_in_another_repository_is_a_fork(event, example):
    parsed = parse_event(event, _from_fork(load(example), "eve/Hello-World"))
    assert (parsed.head_repository, parsed.fork, parsed.base_ref) == ("eve/Hello-World", True, "master")
    # GitHub sends a null head repository once the fork was deleted: still a fork's code
    gone = parse_event(event, _from_fork(load(example), None))
    assert (gone.head_repository, gone.fork) == (None, True)
    # the same repository in another case is the same repository
    same = parse_event(event, _from_fork(load(example), "codertocat/hello-world"))
    assert same.fork is False


def test_a_pull_request_without_its_head_repository_is_refused():
    payload = load("pull_request/opened.json")
    del payload["pull_request"]["head"]["repo"]
    with pytest.raises(InvalidEventPayload, match=r"'pull_request\.head\.repo' is missing"):
        parse_event("pull_request", payload)
    payload["pull_request"]["head"]["repo"] = "eve/infra"
    with pytest.raises(InvalidEventPayload, match=r"'pull_request\.head\.repo' is not an object"):
        parse_event("pull_request", payload)


@pytest.mark.parametrize("state", ["approved", "APPROVED", "changes_requested", "CHANGES_REQUESTED", "dismissed"])
def test_review_state_is_lower_case(state):
    payload = load("pull_request_review/submitted.json")
    payload["review"]["state"] = state
    assert parse_event("pull_request_review", payload).state == state.lower()


def test_review_unknown_state_is_refused():
    payload = load("pull_request_review/submitted.json")
    payload["review"]["state"] = "lgtm"
    with pytest.raises(ValueError, match=r"'pull_request_review'.*'review\.state'"):
        parse_event("pull_request_review", payload)


def test_push_new_branch():
    push = parse_event("push", load("push/branch.json"))
    assert (push.ref, push.branch, push.tag, push.is_tag, push.name) == (
        "refs/heads/master", "master", None, False, "master"
    )  # fmt: skip
    assert push.created and not push.deleted and push.before == ZERO_SHA
    assert push.after == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


def test_push_tag_created_and_deleted():
    created = parse_event("push", load("push/tag-created.ghes-3.5.json"))
    deleted = parse_event("push", load("push/tag-deleted.json"))
    assert (created.is_tag, created.tag, created.branch, created.created, created.deleted) == (
        True, "simple-tag", None, True, False
    )  # fmt: skip
    assert (deleted.is_tag, deleted.tag, deleted.created, deleted.deleted, deleted.after) == (
        True, "simple-tag", False, True, ZERO_SHA
    )  # fmt: skip


def test_push_to_existing_main():
    payload = load("push/branch.json")
    payload.update(ref="refs/heads/main", created=False, before="f95f852bd8fca8fcc58a9a2d6c842781e32a215e")
    push = parse_event("push", payload)
    assert push.branch == "main" and not push.created and not push.is_tag


def test_release_published():
    release = parse_event("release", load("release/published.json"))
    assert (release.action, release.tag_name, release.target_commitish, release.release_id) == (
        "published", "0.0.1", "master", 17372790
    )  # fmt: skip
    assert release.author == "Codertocat" and not release.draft and not release.prerelease
    assert release.published_at == datetime(2019, 5, 15, 15, 20, 53, tzinfo=timezone.utc)
    assert parse_event("release", load("release/created.json")).action == "created"


def test_ping():
    plain = parse_event("ping", load("ping/ping.json"))
    app = parse_event("ping", load("ping/with-app_id.json"))
    assert plain.hook_id == 109948940 and plain.app_id is None and plain.zen
    assert app.app_id == 29310 and app.repository == "Octocoders/Hello-World"


@pytest.mark.parametrize("event", ["check_run", "check_suite", "issue_comment", "workflow_run", "", "PUSH"])
def test_unhandled_events_are_none(event):
    assert parse_event(event, {"anything": 1}) is None


@pytest.mark.parametrize(
    ("event", "example", "path"),
    [
        ("pull_request", "pull_request/opened.json", "pull_request.head.sha"),
        ("pull_request", "pull_request/opened.json", "pull_request.number"),
        ("pull_request", "pull_request/opened.json", "repository"),
        ("pull_request_review", "pull_request_review/submitted.json", "review.commit_id"),
        ("push", "push/branch.json", "after"),
        ("release", "release/published.json", "release.tag_name"),
        ("ping", "ping/ping.json", "hook_id"),
    ],
)
def test_missing_field_names_event_and_field(event, example, path):
    payload = load(example)
    *parents, leaf = path.split(".")
    node = payload
    for key in parents:
        node = node[key]
    del node[leaf]
    with pytest.raises(ValueError) as info:
        parse_event(event, payload)
    message = str(info.value)
    assert repr(event) in message
    # a missing parent shows as the first missing step of the path
    assert repr(path) in message or repr("repository.full_name") in message
    assert isinstance(info.value, InvalidEventPayload) and info.value.event == event


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["pull_request"].update(number="2"), "pull_request.number"),
        (lambda p: p["pull_request"]["head"].update(sha=None), "pull_request.head.sha"),
        (lambda p: p["pull_request"].update(head="ec26c3e"), "pull_request.head.sha"),
        (lambda p: p["pull_request"].update(labels="bug"), "pull_request.labels"),
    ],
)
def test_wrong_types_are_refused_naming_the_field(mutate, field):
    payload = copy.deepcopy(load("pull_request/opened.json"))
    mutate(payload)
    with pytest.raises(ValueError, match=f"'pull_request'.*'{field}'"):
        parse_event("pull_request", payload)


def test_bad_time_is_refused():
    payload = load("release/published.json")
    payload["release"]["published_at"] = "yesterday"
    with pytest.raises(ValueError, match=r"'release\.published_at' is not an ISO 8601 time"):
        parse_event("release", payload)


@pytest.mark.parametrize("payload", [[], "x", None, 3])
def test_payload_must_be_an_object(payload):
    with pytest.raises(ValueError, match="not an object"):
        parse_event("push", payload)


def test_models_are_frozen():
    push = parse_event("push", load("push/branch.json"))
    with pytest.raises(ValidationError):
        push.ref = "refs/heads/evil"
    assert hash(push) == hash(parse_event("push", load("push/branch.json")))
