"""Releases, annotated tags and merged pull requests in the GitHub emulator, as a GitHub client sees them through
HTTP (PyGithub, httpx) and as git sees the repository; every answer checked against the contract."""

from __future__ import annotations

import subprocess

import github
import httpx
import pytest

from gitops_pipelines_dev.github_emulator.openapi_check import check

OWNER, NAME = "acme", "releases"
FILES = {"README.md": "# releases\n", "modules/net/main.tf": 'variable "cidr" {}\n'}
AUTH = {"Authorization": "token t"}


pytestmark = pytest.mark.usefixtures("every_answer_meets_the_contract")


@pytest.fixture(scope="module")
def repo(emulator):
    gh = github.Github(base_url=emulator.base_url, auth=github.Auth.Token("t"), retry=None,
                       seconds_between_requests=0, seconds_between_writes=0)
    return gh.get_repo(f"{OWNER}/{NAME}")


def api(emulator, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{emulator.base_url}/repos/{OWNER}/{NAME}{path}", headers=AUTH, **kwargs)


def git(where, *args: str) -> str:
    return subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True, text=True).stdout.strip()


def annotated_tag(emulator, repo, name: str, message: str, sha: str | None = None) -> str:
    """A tag object for sha (default: main) and `refs/tags/<name>` at it, both through the API; the tag's sha."""
    tag = repo.create_git_tag(name, message, sha or git(emulator.git_dir, "rev-parse", "main"), "commit")
    repo.create_git_ref(f"refs/tags/{name}", tag.sha)
    return tag.sha


# -- PATCH /releases/{release_id} ---------------------------------------------------------------------------------
def test_editing_a_draft_publishes_it_with_its_tag(emulator, repo):
    main = git(emulator.git_dir, "rev-parse", "main")
    draft = repo.create_git_release("v0.1.0", "draft", "not yet", draft=True)
    assert "v0.1.0" not in git(emulator.git_dir, "tag", "-l")  # a draft has no tag yet, as on GitHub
    edited = draft.update_release("First", "Notes", draft=False, prerelease=False, make_latest="true")
    assert (edited.id, edited.title, edited.body, edited.draft, edited.prerelease) == (draft.id, "First", "Notes",
                                                                                       False, False)
    assert edited.published_at is not None and edited.tag_name == "v0.1.0"
    assert git(emulator.git_dir, "rev-parse", "v0.1.0") == main
    again = repo.get_release(draft.id)
    assert (again.title, again.body, again.draft) == ("First", "Notes", False)
    assert repo.get_latest_release().id == draft.id
    assert emulator.deliveries("release", "published")[-1].payload["release"]["id"] == draft.id


def test_editing_the_tag_name_tags_the_target_and_keeps_the_old_tag(emulator, repo):
    old = git(emulator.git_dir, "rev-parse", "main")
    new = emulator.commit("main", {"modules/net/main.tf": 'variable "cidr" { default = "10.0.0.0/16" }\n'}, "cidr")
    rel = repo.create_git_release("v0.2.0", "Second", "", target_commitish=old)
    edited = rel.update_release("Second, retagged", "", tag_name="v0.2.1", target_commitish=new)
    assert (edited.tag_name, edited.target_commitish) == ("v0.2.1", new)
    assert git(emulator.git_dir, "rev-parse", "v0.2.1") == new and git(emulator.git_dir, "rev-parse", "v0.2.0") == old
    answer = api(emulator, "PATCH", f"/releases/{rel.id}", json={"prerelease": True})
    body = answer.json()
    assert answer.status_code == 200 and body["prerelease"] is True and body["name"] == "Second, retagged"
    assert body["updated_at"] >= body["published_at"]


def test_make_latest_chooses_the_latest_release(emulator, repo):
    first = repo.create_git_release("v1.0.0", "One", "")
    second = repo.create_git_release("v1.1.0", "One one", "")
    assert repo.get_latest_release().id == second.id
    first.update_release("One", "", make_latest="true")
    assert repo.get_latest_release().id == first.id
    first.update_release("One", "", prerelease=True)  # a prerelease is never the latest
    assert repo.get_latest_release().id == second.id
    quiet = repo.create_git_release("v1.2.0", "Quiet", "", make_latest="false")
    assert repo.get_latest_release().id == second.id != quiet.id
    dated = repo.create_git_release("v1.3.0", "By date", "", make_latest="legacy")  # the newest then wins
    assert repo.get_latest_release().id == dated.id


def test_editing_refuses_what_github_refuses(emulator, repo):
    rel = repo.create_git_release("v2.0.0", "Two", "")
    assert api(emulator, "PATCH", "/releases/999999", json={"name": "x"}).status_code == 404
    taken = api(emulator, "PATCH", f"/releases/{rel.id}", json={"tag_name": "v1.0.0"})
    assert taken.status_code == 422 and taken.json()["errors"][0]["code"] == "already_exists"
    nowhere = api(emulator, "PATCH", f"/releases/{rel.id}", json={"tag_name": "v2.0.1", "target_commitish": "nope"})
    assert nowhere.status_code == 422 and nowhere.json()["errors"][0]["field"] == "target_commitish"
    for bad in ({"make_latest": "maybe"}, {"draft": "no"}, {"tag_name": "bad..name"}):
        assert api(emulator, "PATCH", f"/releases/{rel.id}", json=bad).status_code == 422, bad
    category = api(emulator, "PATCH", f"/releases/{rel.id}", json={"discussion_category_name": "Announcements"})
    assert category.status_code == 404  # the emulator has no discussions
    assert repo.get_release(rel.id).tag_name == "v2.0.0" and "v2.0.1" not in git(emulator.git_dir, "tag", "-l")


# -- POST /git/tags, then POST /git/refs ----------------------------------------------------------------------------
def test_a_tag_object_and_its_ref_make_an_annotated_tag(emulator, repo, tmp_path):
    early = tmp_path / "early"
    subprocess.run(["git", "clone", "-q", str(emulator.git_dir), str(early)], check=True)
    main = git(emulator.git_dir, "rev-parse", "main")
    tagger = github.InputGitAuthor("Release Bot", "bot@example.com", "2024-05-06T07:08:09+02:00")
    tag = repo.create_git_tag("v3.0.0", "Release 3.0.0\n\nwith notes", main, "commit", tagger=tagger)
    assert tag.sha != main and (tag.tag, tag.message) == ("v3.0.0", "Release 3.0.0\n\nwith notes")
    assert (tag.object.sha, tag.object.type) == (main, "commit") and tag.object.url.endswith(f"/git/commits/{main}")
    assert (tag.tagger.name, tag.tagger.email) == ("Release Bot", "bot@example.com")
    assert tag.raw_data["tagger"]["date"] == "2024-05-06T05:08:09Z" and tag.verification.verified is False
    assert git(emulator.git_dir, "cat-file", "-t", tag.sha) == "tag"
    assert "tagger Release Bot <bot@example.com> 1714972089 +0200" in git(emulator.git_dir, "cat-file", "-p", tag.sha)
    # like GitHub, no ref yet: git has no tag of that name and the API has no ref
    assert "v3.0.0" not in git(emulator.git_dir, "tag", "-l")
    assert api(emulator, "GET", "/git/ref/tags/v3.0.0").status_code == 404
    ref = repo.create_git_ref("refs/tags/v3.0.0", tag.sha)
    assert (ref.ref, ref.object.type, ref.object.sha) == ("refs/tags/v3.0.0", "tag", tag.sha)
    assert ref.object.url.endswith(f"/git/tags/{tag.sha}")
    got = repo.get_git_ref("tags/v3.0.0")
    assert (got.object.type, got.object.sha) == ("tag", tag.sha)
    assert ("v3.0.0", main) in [(t.name, t.commit.sha) for t in repo.get_tags()]  # /tags lists the peeled commit
    assert "v3.0.0" in git(emulator.git_dir, "tag", "-l").split()
    again = api(emulator, "GET", f"/git/tags/{tag.sha}").json()
    assert (again["sha"], again["message"], again["object"]["sha"]) == (tag.sha, tag.message, main)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(emulator.git_dir), str(clone)], check=True)
    git(early, "fetch", "-q", "--tags")
    for where in (clone, early):
        assert git(where, "cat-file", "-t", "v3.0.0") == "tag" and git(where, "rev-parse", "v3.0.0") == tag.sha
        assert git(where, "tag", "-l", "--format=%(contents)", "v3.0.0") == "Release 3.0.0\n\nwith notes"
        assert git(where, "rev-parse", "v3.0.0^{commit}") == main


def test_a_tag_object_without_tagger_is_tagged_by_the_token_user(emulator):
    main = git(emulator.git_dir, "rev-parse", "main")
    answer = api(emulator, "POST", "/git/tags", json={"tag": "v3.0.1", "message": "", "object": main,
                                                      "type": "commit"})
    body = answer.json()
    assert answer.status_code == 201 and answer.headers["Location"] == body["url"] == \
        f"{emulator.base_url}/repos/{OWNER}/{NAME}/git/tags/{body['sha']}"
    assert body["tagger"]["name"] == emulator.state.login and body["message"] == ""
    assert body["verification"] == {"verified": False, "reason": "unsigned", "payload": None, "signature": None,
                                    "verified_at": None}


def test_tag_objects_and_refs_refuse_what_github_refuses(emulator):
    main = git(emulator.git_dir, "rev-parse", "main")
    tree = git(emulator.git_dir, "rev-parse", "main^{tree}")
    missing = api(emulator, "POST", "/git/tags", json={"tag": "v4", "object": main})
    assert missing.status_code == 422
    assert missing.json()["message"] == 'Invalid request.\n\n"message", "type" weren\'t supplied.'
    good = {"tag": "v4", "message": "four", "object": main, "type": "commit"}
    refused = {"unknown object": {"object": "0123456789" * 4}, "a tree": {"object": tree},
               "a tree, said so": {"object": tree, "type": "tree"}, "another type": {"type": "blob"},
               "no such type": {"type": "ref"}, "a bad name": {"tag": "v4..0"},
               "a tagger without email": {"tagger": {"name": "x"}},
               "a tagger with a bad date": {"tagger": {"name": "x", "email": "x@example.com", "date": "soon"}},
               "a date git refuses": {"tagger": {"name": "x", "email": "x@example.com", "date": "1960-01-01T00:00:00Z"}}}
    for why, change in refused.items():
        answer = api(emulator, "POST", "/git/tags", json={**good, **change})
        assert answer.status_code == 422 and answer.json()["message"], why
    before = git(emulator.git_dir, "count-objects", "-v")
    tag_sha = api(emulator, "POST", "/git/tags", json=good).json()["sha"]
    assert git(emulator.git_dir, "count-objects", "-v") != before
    for ref, sha in (("refs/heads/v4", tag_sha), ("refs/tags/v4", "f" * 40), ("refs/tags/v4", tree),
                     ("refs/tags/v4..x", tag_sha)):
        assert api(emulator, "POST", "/git/refs", json={"ref": ref, "sha": sha}).status_code == 422, (ref, sha)
    assert api(emulator, "POST", "/git/refs", json={"ref": "refs/tags/v4", "sha": tag_sha}).status_code == 201
    assert api(emulator, "POST", "/git/refs", json={"ref": "refs/tags/v4", "sha": tag_sha}).status_code == 422
    assert api(emulator, "GET", f"/git/tags/{main}").status_code == 404  # a commit is no tag object


# -- POST /releases for a tag that exists ---------------------------------------------------------------------------
def test_a_release_of_an_annotated_tag_keeps_the_tag(emulator, repo):
    first = emulator.commit("main", {"README.md": "# releases, tagged\n"}, "Tag me")
    tag_sha = annotated_tag(emulator, repo, "v5.0.0", "Five", first)
    emulator.commit("main", {"README.md": "# releases, later\n"}, "After the tag")
    rel = repo.create_git_release("v5.0.0", "Five", "notes", target_commitish="main")
    assert rel.tag_name == "v5.0.0" and not rel.draft
    assert git(emulator.git_dir, "rev-parse", "refs/tags/v5.0.0") == tag_sha
    assert git(emulator.git_dir, "cat-file", "-t", "v5.0.0") == "tag"
    assert git(emulator.git_dir, "rev-parse", "v5.0.0^{commit}") == first
    draft_tag = annotated_tag(emulator, repo, "v5.1.0", "Five one")
    draft = repo.create_git_release("v5.1.0", "Five one", "", draft=True)
    draft.update_release("Five one", "", draft=False)
    assert git(emulator.git_dir, "rev-parse", "refs/tags/v5.1.0") == draft_tag
    assert git(emulator.git_dir, "cat-file", "-t", "v5.1.0") == "tag"
    assert repo.get_git_ref("tags/v5.1.0").object.type == "tag"


# -- merged pull requests in lists, labels on issues ---------------------------------------------------------------
def test_closed_pulls_carry_merge_commit_and_labels(emulator, repo):
    emulator.commit("feature/merged", {"modules/net/outputs.tf": "# outputs\n"}, "Outputs")
    merged = emulator.open_pull("feature/merged", "Add outputs")
    emulator.repo.set_labels(merged, ["bug", "release:minor"])
    merge_sha = emulator.merge(merged)
    emulator.commit("feature/dropped", {"modules/net/dropped.tf": "# dropped\n"}, "Dropped")
    dropped = emulator.open_pull("feature/dropped", "Not this one")
    emulator.close(dropped)
    emulator.commit("feature/open", {"modules/net/open.tf": "# open\n"}, "Open")
    still_open = emulator.open_pull("feature/open", "Still open")
    closed = {p.number: p for p in repo.get_pulls(state="closed")}
    assert set(closed) == {merged, dropped}
    assert closed[merged].merged_at is not None and closed[merged].merge_commit_sha == merge_sha
    assert [label.name for label in closed[merged].labels] == ["bug", "release:minor"]
    assert closed[dropped].merged_at is None
    listed = api(emulator, "GET", "/pulls", params={"state": "all"}).json()
    by_number = {p["number"]: p for p in listed}
    assert {merged, dropped, still_open} <= set(by_number)
    assert by_number[merged]["merge_commit_sha"] == merge_sha and by_number[merged]["merged_at"]
    assert [label["name"] for label in by_number[merged]["labels"]] == ["bug", "release:minor"]
    assert by_number[still_open]["state"] == "open" and by_number[still_open]["merged_at"] is None
    assert [label.name for label in repo.get_issue(merged).labels] == ["bug", "release:minor"]
    issue = api(emulator, "GET", f"/issues/{merged}").json()
    assert [label["name"] for label in issue["labels"]] == ["bug", "release:minor"]
    assert issue["pull_request"]["merged_at"] == by_number[merged]["merged_at"]
