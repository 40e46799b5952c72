"""People on the GitHub emulator, acting only as users do: real git to clone and push, PyGithub with each person's
own token for issues, pull requests, reviews, check runs and the merge. Every exchange is checked against GitHub's
OpenAPI subset, and every webhook against the octokit schemas."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import github
import pytest

from gitops_pipelines_dev.github_emulator import Emulator
from gitops_pipelines_dev.github_emulator.openapi_check import check

OWNER, NAME = "acme", "infra"
FILES = {"README.md": "# infra\n", "projects/app/main.tf": 'resource "null_resource" "a" {}\n'}


@pytest.fixture(scope="module")
def emu(github_contract):
    with Emulator(github_contract) as emulator:
        emulator.create_repo(OWNER, NAME, FILES)
        yield emulator


def client(emu: Emulator, token: str) -> github.Github:
    return github.Github(base_url=emu.base_url, auth=github.Auth.Token(token), retry=None,
                         seconds_between_requests=0, seconds_between_writes=0)


@pytest.fixture(scope="module")
def developer(emu):
    return client(emu, emu.register_user("developer")).get_repo(f"{OWNER}/{NAME}")


@pytest.fixture(scope="module")
def alice(emu):
    return client(emu, emu.register_user("alice", "alice-secret-token")).get_repo(f"{OWNER}/{NAME}")


@pytest.fixture(scope="module")
def pipeline(emu):
    """A token nobody registered acts as the emulator's default login: the App's bot, as the gateway is."""
    return client(emu, "installation-token").get_repo(f"{OWNER}/{NAME}")


class Clone:
    """A developer's working copy of the emulator's repository, driven with plain git."""

    def __init__(self, emu: Emulator, path: Path, login: str):
        self.path, self.login = path, login
        subprocess.run(["git", "clone", "-q", str(emu.git_dir), str(path)], check=True, capture_output=True)
        self.git("config", "user.name", login)
        self.git("config", "user.email", emu.state.email(login))

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    def change(self, branch: str, files: dict[str, str], message: str) -> str:
        """Branch off origin/main, commit files and push the branch; returns the pushed commit."""
        self.git("fetch", "-q", "origin")
        self.git("checkout", "-q", "-B", branch, "origin/main")
        for name, text in files.items():
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_text(text)
        self.git("add", "-A")
        self.git("commit", "-qm", message)
        self.git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return self.git("rev-parse", "HEAD")


@pytest.fixture(scope="module")
def clone(emu, tmp_path_factory):
    return Clone(emu, tmp_path_factory.mktemp("developer") / "infra", "developer")


def refused(call) -> github.GithubException:
    with pytest.raises(github.GithubException) as caught:
        call()
    return caught.value


def test_each_token_acts_as_its_user(emu, developer, alice, pipeline):
    assert client(emu, "token-for-developer").get_user().login == "developer"
    assert client(emu, "alice-secret-token").get_user().login == "alice"
    assert client(emu, "installation-token").get_user().login == emu.state.login == "gitops-pipelines[bot]"
    with pytest.raises(ValueError):
        emu.register_user("bob", "alice-secret-token")  # a token belongs to one user


def test_a_change_from_git_push_to_merge(emu, developer, alice, pipeline, clone):
    # The developer pushes a branch with real git and opens an issue and a pull request through the API.
    head = clone.change("feature/bucket", {"projects/app/bucket.tf": 'resource "null_resource" "bucket" {}\n'},
                        "Add a bucket")
    issue = developer.create_issue("Add a bucket", body="The app needs one", labels=["enhancement"])
    assert (issue.user.login, issue.state, [l.name for l in issue.labels]) == ("developer", "open", ["enhancement"])
    pr = developer.create_pull(base="main", head="feature/bucket", title="Add a bucket",
                               body=f"Closes #{issue.number}")
    assert pr.number == issue.number + 1 and pr.user.login == "developer" and pr.head.sha == head
    assert (pr.state, pr.merged, pr.mergeable, pr.commits, pr.changed_files) == ("open", False, True, 1, 1)
    opened = emu.deliveries("pull_request", "opened")[-1].payload
    assert opened["sender"]["login"] == "developer" and opened["pull_request"]["head"]["sha"] == head
    assert [d.payload["ref"] for d in emu.deliveries("push")] == ["refs/heads/feature/bucket"]
    commits = list(pr.get_commits())
    assert [(c.sha, c.author.login, c.commit.message) for c in commits] == [(head, "developer", "Add a bucket")]

    # GitHub refuses an author's own approval; the reviewer's approval binds to the head commit.
    own = refused(lambda: pr.create_review(event="APPROVE"))
    assert own.status == 422 and own.data["errors"] == ["Can not approve your own pull request"]
    assert refused(lambda: pr.create_review(event="REQUEST_CHANGES", body="hm")).status == 422
    assert list(pr.get_reviews()) == []
    review = alice.get_pull(pr.number).create_review(event="APPROVE", body="Looks good")
    assert (review.user.login, review.state, review.commit_id, review.body) == ("alice", "APPROVED", head,
                                                                                "Looks good")
    submitted = emu.deliveries("pull_request_review", "submitted")[-1].payload
    assert submitted["review"]["state"] == "approved" and submitted["sender"]["login"] == "alice"
    developer.get_pull(pr.number).create_review(event="COMMENT", body="Thanks!")
    assert [(r.user.login, r.state) for r in pr.get_reviews()] == [("alice", "APPROVED"), ("developer", "COMMENTED")]

    # The pipeline reports on the head commit; anyone lists the check runs of that commit.
    pipeline.create_check_run("gitops/plan", head, status="completed", conclusion="failure")
    plan = pipeline.create_check_run("gitops/plan", head, status="completed", conclusion="success")
    policy = pipeline.create_check_run("gitops/policy", head, status="in_progress")
    runs = developer.get_commit(head).get_check_runs()
    assert runs.totalCount == 2 and {(r.name, r.id) for r in runs} == {("gitops/plan", plan.id),
                                                                      ("gitops/policy", policy.id)}
    assert [r.conclusion for r in developer.get_commit(head).get_check_runs(check_name="gitops/plan")] == ["success"]
    assert [r.id for r in developer.get_commit(head).get_check_runs(status="in_progress")] == [policy.id]
    assert developer.get_commit(head).get_check_runs(filter="all").totalCount == 3
    assert developer.get_commit("feature/bucket").get_check_runs().totalCount == 2  # a branch names its head
    assert [r.name for r in pr.get_commits()[0].get_check_runs(check_name="gitops/policy")] == ["gitops/policy"]

    # A pushed fix moves the head; the approval stays on the commit it was given for.
    clone.git("checkout", "-q", "feature/bucket")
    (clone.path / "projects/app/bucket.tf").write_text('resource "null_resource" "bucket" { count = 1 }\n')
    clone.git("commit", "-qam", "Count the bucket")
    clone.git("push", "-q", "origin", "feature/bucket")
    fixed = clone.git("rev-parse", "HEAD")
    pr = developer.get_pull(pr.number)
    assert pr.head.sha == fixed and [c.sha for c in pr.get_commits()] == [head, fixed]
    assert [r.commit_id for r in pr.get_reviews()][0] == head
    assert emu.deliveries("pull_request", "synchronize")[-1].payload["after"] == fixed
    again = alice.get_pull(pr.number).create_review(event="APPROVE")
    assert again.commit_id == fixed

    # Alice merges as a user would (PyGithub's pr.merge()); the merge is hers, in git and on GitHub.
    main_before = developer.get_branch("main").commit.sha
    status = alice.get_pull(pr.number).merge()
    assert status.merged and status.message == "Pull Request successfully merged"
    merged = developer.get_pull(pr.number)
    assert (merged.state, merged.merged, merged.merged_by.login, merged.merge_commit_sha) == ("closed", True,
                                                                                            "alice", status.sha)
    clone.git("fetch", "-q", "origin")
    assert clone.git("rev-parse", "origin/main") == status.sha
    assert clone.git("log", "-1", "--format=%an %P", status.sha).split() == ["alice", main_before, fixed]
    subject = clone.git("log", "-1", "--format=%s", status.sha)
    assert subject == f"Merge pull request #{pr.number} from acme/feature/bucket"
    closed = emu.deliveries("pull_request", "closed")[-1].payload
    assert closed["pull_request"]["merged"] is True and closed["sender"]["login"] == "alice"
    assert emu.deliveries("push")[-1].payload["ref"] == "refs/heads/main"
    assert refused(lambda: alice.get_pull(pr.number).merge()).status == 405  # only an open pull request merges

    # The developer closes the issue the change completed.
    developer.get_issue(issue.number).edit(state="closed", state_reason="completed")
    done = alice.get_issue(issue.number)
    assert (done.state, done.state_reason, done.closed_by.login) == ("closed", "completed", "developer")


def test_issue_lists_filter_like_github(emu, developer, alice, clone):
    developer.create_label("infra", "1d76db", "Terraform changes")
    assert refused(lambda: developer.create_label("Infra", "000000")).status == 422  # names are case-insensitive
    assert {"bug", "enhancement", "infra"} <= {l.name for l in developer.get_labels()}
    assert developer.get_label("infra").description == "Terraform changes"
    bug = alice.create_issue("Plan fails on the bucket", labels=["bug", "infra"])
    idea = alice.create_issue("Tag every resource", body="cc @developer", labels=["enhancement"])
    clone.change("feature/tags", {"projects/app/tags.tf": "# tags\n"}, "Tag resources")
    pr = developer.create_pull(base="main", head="feature/tags", title="Tag resources", draft=True)

    open_numbers = [i.number for i in developer.get_issues()]  # open, newest first; pull requests included
    assert open_numbers[:3] == [pr.number, idea.number, bug.number]
    listed = {i.number: i for i in developer.get_issues()}
    assert listed[pr.number].pull_request is not None and listed[bug.number].pull_request is None
    assert [i.number for i in developer.get_issues(labels=["infra"])] == [bug.number]
    assert [i.number for i in developer.get_issues(labels=["bug", "infra"])] == [bug.number]
    assert list(developer.get_issues(labels=["bug", "enhancement"])) == []
    assert [i.number for i in developer.get_issues(creator="alice")] == [idea.number, bug.number]
    assert [i.number for i in developer.get_issues(mentioned=pr.user)] == [idea.number]  # @developer
    assert [i.number for i in developer.get_issues(sort="created", direction="asc")][-1] == pr.number

    # Labels on a pull request: added through the issue, listed on the pull request, sent as pull_request.labeled.
    developer.get_issue(pr.number).add_to_labels("infra")
    assert [l.name for l in developer.get_pull(pr.number).labels] == ["infra"]
    labeled = emu.deliveries("pull_request", "labeled")[-1].payload
    assert labeled["label"]["name"] == "infra" and labeled["sender"]["login"] == "developer"
    assert [i.number for i in developer.get_issues(labels=["infra"])] == [pr.number, bug.number]
    developer.get_issue(bug.number).remove_from_labels("infra")
    assert [l.name for l in developer.get_issue(bug.number).labels] == ["bug"]

    # Closing: an issue as not planned; a draft pull request through its issue (GitHub sends pull_request.closed).
    alice.get_issue(idea.number).edit(state="closed", state_reason="not_planned", title="Tag resources (later)")
    assert refused(lambda: developer.get_pull(pr.number).merge()).status == 405  # a draft does not merge
    developer.get_issue(pr.number).edit(state="closed")
    assert emu.deliveries("pull_request", "closed")[-1].payload["pull_request"]["number"] == pr.number
    closed = {i.number: i for i in developer.get_issues(state="closed")}
    assert closed[idea.number].state_reason == "not_planned" and closed[idea.number].title == "Tag resources (later)"
    assert pr.number in closed and bug.number not in closed
    assert bug.number in {i.number for i in developer.get_issues(state="all")}
    developer.get_issue(pr.number).edit(state="open")
    reopened = developer.get_issue(pr.number)
    assert (reopened.state, reopened.state_reason) == ("open", "reopened")
    assert emu.deliveries("pull_request", "reopened")[-1].payload["pull_request"]["number"] == pr.number


def test_what_github_refuses(emu, developer, alice, clone):
    assert refused(lambda: developer.create_pull(base="main", head="no-such-branch", title="x")).status == 422
    clone.change("feature/refusals", {"refusals.tf": "# r\n"}, "Refusals")
    pr = developer.create_pull(base="main", head="feature/refusals", title="Refusals")
    duplicate = refused(lambda: developer.create_pull(base="main", head="feature/refusals", title="Again"))
    assert duplicate.status == 422 and "already exists" in duplicate.data["errors"][0]["message"]
    assert refused(lambda: developer.create_pull(base="main", head="main", title="Nothing")).status == 422
    assert refused(lambda: alice.get_pull(pr.number).create_review(event="REQUEST_CHANGES")).status == 422
    stale = refused(lambda: alice.get_pull(pr.number).merge(sha="0" * 40))
    assert stale.status == 409
    assert refused(lambda: developer.create_issue("")).status == 422


def test_squash_and_rebase_merges(emu, developer, alice, clone):
    clone.change("feature/squash", {"squash-1.tf": "# 1\n"}, "First")
    (clone.path / "squash-2.tf").write_text("# 2\n")
    clone.git("add", "-A")
    clone.git("commit", "-qm", "Second")
    clone.git("push", "-q", "origin", "feature/squash")
    pr = developer.create_pull(base="main", head="feature/squash", title="Squash me")
    status = alice.get_pull(pr.number).merge(merge_method="squash")
    clone.git("fetch", "-q", "origin")
    assert clone.git("log", "-1", "--format=%P", status.sha).count(" ") == 0  # one parent
    assert clone.git("log", "-1", "--format=%B", status.sha).startswith(f"Squash me (#{pr.number})\n\n* First")
    assert clone.git("show", f"{status.sha}:squash-2.tf") == "# 2"

    head = clone.change("feature/rebase", {"rebase.tf": "# r\n"}, "Rebase me")
    pr = developer.create_pull(base="main", head="feature/rebase", title="Rebase me")
    base = developer.get_branch("main").commit.sha
    status = alice.get_pull(pr.number).merge(merge_method="rebase")
    clone.git("fetch", "-q", "origin")
    assert clone.git("rev-parse", "origin/main") == status.sha != head  # replayed, so a new commit
    assert clone.git("log", "-1", "--format=%P|%an|%cn|%s", status.sha) == f"{base}|developer|alice|Rebase me"
    assert clone.git("show", f"{status.sha}:rebase.tf") == "# r"
    assert developer.get_pull(pr.number).merged_by.login == "alice"


def test_contents_read_from_git(developer, clone):
    readme = developer.get_contents("README.md")
    assert readme.decoded_content == b"# infra\n" and readme.encoding == "base64"
    assert base64.b64decode(readme.content) == b"# infra\n"
    entries = developer.get_contents("projects/app")
    assert {e.name for e in entries} >= {"main.tf", "bucket.tf"} and all(e.type == "file" for e in entries)
    assert developer.get_contents("README.md", ref="feature/refusals").sha == readme.sha
    assert refused(lambda: developer.get_contents("nope.txt")).status == 404


def test_every_exchange_meets_the_contract_and_every_webhook_its_schema(emu):
    report = check(emu.exchanges, emu.contract)
    assert not report.failures, report.summary()
    outside = [why for _, why in report.exempt if "not in the subset" not in why]
    assert not outside, outside  # nothing the subset documents escaped validation
    paths = emu.contract.openapi_document["paths"]
    validated = {paths[x.route][x.method.lower()]["operationId"] for x in report.validated}
    assert {"pulls/create", "pulls/create-review", "pulls/merge", "pulls/list-commits", "issues/create",
            "issues/list-for-repo", "issues/update", "issues/add-labels", "issues/list-labels-for-repo",
            "issues/create-label", "checks/list-for-ref", "repos/get-content"} <= validated
    for delivery in emu.deliveries():
        assert not emu.contract.webhook_errors(delivery.payload, delivery.event, delivery.action), delivery.event
