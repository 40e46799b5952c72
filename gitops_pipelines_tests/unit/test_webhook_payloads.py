"""Webhook payloads the emulator builds validate against the octokit schemas, including the variants GitHub
publishes no example of (a merged PR, an approval, a push to main)."""

from __future__ import annotations

import json

import pytest

from gitops_pipelines_dev.contract import GitHubContract
from gitops_pipelines_dev.github_emulator import Emulator


@pytest.fixture(scope="module")
def emulator(github_contract):
    """No HTTP server: the payload builders only need the state and the git repository."""
    emu = Emulator(github_contract)
    emu.create_repo("acme", "infra", {"README.md": "# infra\n", "main.tf": "# v1\n"})
    emu.commit("feature", {"main.tf": "# v2\n", "new.tf": "# new\n"}, "Change main")
    number = emu.open_pull("feature", "Change main", "Why: tests")
    emu.push(number, {"new.tf": None}, "Drop new.tf")
    for state in ("COMMENTED", "CHANGES_REQUESTED", "APPROVED"):
        emu.review(number, "alice", state, body=f"{state.lower()} it")
    emu.close(number)
    emu.reopen(number)
    emu.merge(number)
    emu.commit("abandoned", {"x.tf": "# x\n"}, "Try something")
    emu.close(emu.open_pull("abandoned", "Abandoned"))
    from gitops_pipelines_dev.github_emulator.models import Release

    emu.repo.add_release(Release(emu.state.next_id(), "v1.0.0", "main", "v1.0.0", "notes", False, False, "alice"))
    yield emu
    emu.stop()


def only(emulator, event, action=None, **where):
    found = [d.payload for d in emulator.deliveries(event, action)
             if all(_dig(d.payload, key) == value for key, value in where.items())]
    assert found, f"no {event}.{action} delivery with {where}"
    return found


def _dig(payload, dotted):
    for part in dotted.split("__"):
        payload = payload[part]
    return payload


CASES = {
    "opened": ("pull_request", "opened", {}),
    "synchronize": ("pull_request", "synchronize", {}),
    "closed-not-merged": ("pull_request", "closed", {"pull_request__merged": False}),
    "closed-merged": ("pull_request", "closed", {"pull_request__merged": True}),
    "reopened": ("pull_request", "reopened", {}),
    "review-approved": ("pull_request_review", "submitted", {"review__state": "approved"}),
    "review-changes-requested": ("pull_request_review", "submitted", {"review__state": "changes_requested"}),
    "review-commented": ("pull_request_review", "submitted", {"review__state": "commented"}),
    "push-main": ("push", None, {"ref": "refs/heads/main"}),
    "push-new-branch": ("push", None, {"ref": "refs/heads/abandoned"}),
    "release-published": ("release", "published", {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_payload_validates_against_octokit_schema(emulator, case):
    event, action, where = CASES[case]
    for payload in only(emulator, event, action, **where):
        assert emulator.contract.webhook_errors(payload, event, action) == []
        text = json.dumps(payload)
        assert "Codertocat" not in text and "Hello-World" not in text  # nothing left over from the examples


def test_merged_pull_request_carries_the_merge(emulator):
    payload = only(emulator, "pull_request", "closed", pull_request__merged=True)[0]
    pr = payload["pull_request"]
    assert pr["merged_by"]["login"] == "maintainer" and pr["merged_at"] and pr["state"] == "closed"
    assert pr["merge_commit_sha"] == emulator.repo.git.resolve("main")


def test_approval_names_the_reviewed_commit(emulator):
    payload = only(emulator, "pull_request_review", "submitted", review__state="approved")[0]
    assert payload["review"]["commit_id"] == payload["pull_request"]["head"]["sha"]
    assert payload["review"]["user"]["login"] == "alice" and payload["sender"]["login"] == "alice"


def test_push_to_main_lists_the_merge(emulator):
    payload = only(emulator, "push", None, ref="refs/heads/main")[0]
    assert payload["created"] is False and payload["deleted"] is False and payload["forced"] is False
    assert payload["after"] == emulator.repo.git.resolve("main") == payload["head_commit"]["id"]
    assert isinstance(payload["repository"]["created_at"], int)  # push events use epoch seconds
    assert payload["commits"][-1]["message"].startswith("Merge pull request #1")


def test_synchronize_has_before_and_after(emulator):
    payload = only(emulator, "pull_request", "synchronize")[0]
    assert payload["before"] != payload["after"] == payload["pull_request"]["head"]["sha"]


def test_release_published_tags_main(emulator):
    payload = only(emulator, "release", "published")[0]
    assert payload["release"]["tag_name"] == "v1.0.0" and payload["release"]["draft"] is False
    assert "v1.0.0" in emulator.repo.git.tags()


def test_real_examples_still_validate(github_contract):
    """The templates themselves conform, so a failure above is the emulator's, not the contract's."""
    for event, name in [("pull_request", "opened"), ("pull_request", "closed"), ("pull_request_review", "submitted"),
                        ("push", "branch"), ("release", "published")]:
        example = github_contract.webhook_example(event, name)
        github_contract.validate(example, event, example.get("action"))


def test_validate_names_what_is_wrong(github_contract):
    broken = github_contract.webhook_example("pull_request", "opened")
    broken["pull_request"]["merged"] = "yes"
    with pytest.raises(ValueError, match="pull_request/merged"):
        github_contract.validate(broken, "pull_request", "opened")
    assert "common/user.schema.json" in github_contract.octokit_registry


def test_a_missing_contract_folder_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="--github-contract or \\$GITOPS_GITHUB_CONTRACT"):
        GitHubContract(tmp_path / "nowhere")
