"""The emulator's HTML pages under /ui, as the demo uses them in a browser: a pull request's checks, plan comments,
reviews, deployments and linked issue; Approve and Merge buttons whose results the REST API then shows; and a
repository's issues and Releases. The REST calls around them are checked against the contract as usual."""

from __future__ import annotations

import github
import pytest
import requests

OWNER, NAME = "acme", "pages"
FILES = {"README.md": "# pages\n", "projects/app/main.tf": 'resource "null_resource" "a" {}\n'}
PLAN_COMMENT = """<!-- gitops-pipelines:unit=app env=test -->
### Plan for `app` in `test`: 1 to add

<script>alert("stolen")</script> and **bold** text

<details><summary>Show plan (2 lines)</summary>

```diff
+ resource "null_resource" "a"
</details>
```

</details>
"""

pytestmark = pytest.mark.usefixtures("every_answer_meets_the_contract")


def client(emulator, token: str) -> github.Repository.Repository:
    gh = github.Github(base_url=emulator.base_url, auth=github.Auth.Token(token), retry=None,
                       seconds_between_requests=0, seconds_between_writes=0)
    return gh.get_repo(f"{OWNER}/{NAME}")


@pytest.fixture(scope="module")
def people(emulator):
    """The demo's people with their own tokens, and the pipeline (the App's bot, an unregistered token)."""
    return {"alice": emulator.register_user("alice", "alice-token"),
            "maintainer": emulator.register_user("maintainer", "maintainer-token"), "pipeline": "installation-token"}


def ui(emulator, *path: object) -> str:
    return emulator.base_url + "/ui/" + "/".join(str(p) for p in path)


def open_pull(emulator, branch: str, body: str = "", files: dict | None = None) -> int:
    emulator.commit(branch, files or {f"projects/app/{branch}.tf": f"# {branch}\n"}, f"Change {branch}")
    return emulator.open_pull(branch, f"Change {branch}", body)


def test_a_pull_request_page_shows_its_checks_plan_comment_reviews_deployment_and_issue(emulator, people):
    issue = emulator.create_issue("Logs need their own bucket")
    number = open_pull(emulator, "logs", f"Adds the bucket.\n\nFixes #{issue}")
    bot = client(emulator, people["pipeline"])
    pr = bot.get_pull(number)
    bot.create_check_run("app/plan (test)", pr.head.sha, status="completed", conclusion="failure", output={
        "title": "Policy failed", "summary": "1 violation in **app**",
        "annotations": [{"path": "projects/app/main.tf", "start_line": 3, "end_line": 3, "annotation_level": "failure",
                         "title": "no-public-buckets", "message": "Bucket logs must not be public"}]})
    bot.get_issue(number).create_comment(PLAN_COMMENT)
    client(emulator, people["alice"]).get_pull(number).create_review(event="APPROVE", body="Looks *right*")
    deployment = bot.create_deployment(pr.head.sha, environment="app/test", required_contexts=[], auto_merge=False)
    deployment.create_status("success", description="Applied 1 resource", target_url="http://dagster.local/runs/1")

    answer = requests.get(ui(emulator, OWNER, NAME, "pull", number), timeout=10)

    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert "app/plan (test)" in page and "Policy failed" in page and "1 violation in <strong>app</strong>" in page
    assert "projects/app/main.tf:3" in page and "no-public-buckets" in page and "Bucket logs must not be public" in page
    assert "<h3>Plan for <code>app</code> in <code>test</code>: 1 to add</h3>" in page
    assert "<details><summary>Show plan (2 lines)</summary>" in page and "<strong>bold</strong>" in page
    assert "&lt;/details&gt;\n</code></pre>" in page  # a closing tag inside the fenced plan is plan text
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;stolen&quot;)&lt;/script&gt;" in page
    assert "gitops-pipelines:unit=app" not in page  # the marker is hidden, as GitHub hides HTML comments
    assert "alice" in page and "APPROVED" in page and "Looks <em>right</em>" in page
    assert "app/test" in page and "Applied 1 resource" in page and "http://dagster.local/runs/1" in page
    assert "Logs need their own bucket" in page and f"/ui/{OWNER}/{NAME}/issues/{issue}" in page
    assert not any(token in page for token in ("alice-token", "maintainer-token", "installation-token"))
    issue_page = requests.get(ui(emulator, OWNER, NAME, "issues", issue), timeout=10).text
    assert "Logs need their own bucket" in issue_page and f"/ui/{OWNER}/{NAME}/pull/{number}" in issue_page
    assert not [x for x in emulator.exchanges if x.path.startswith("/ui")]  # pages are no API answer to validate


def test_approve_on_the_page_is_a_review_of_the_head_through_the_api(emulator, people):
    number = open_pull(emulator, "approve-me")
    head = emulator.repo.pull(number).head_sha

    answer = requests.post(ui(emulator, OWNER, NAME, "pull", number, "approve"),
                           data={"login": "alice", "head_sha": head}, timeout=10)

    assert answer.status_code == 200 and "Approved." in answer.text
    reviews = list(client(emulator, people["maintainer"]).get_pull(number).get_reviews())
    assert [(r.user.login, r.state, r.commit_id) for r in reviews] == [("alice", "APPROVED", head)]


def test_merge_on_the_page_merges_as_the_maintainer(emulator, people):
    number = open_pull(emulator, "merge-me")

    page = requests.get(ui(emulator, OWNER, NAME, "pull", number), timeout=10).text
    assert '<option value="maintainer" selected>' in page  # Merge acts as the maintainer unless another is chosen

    answer = requests.post(ui(emulator, OWNER, NAME, "pull", number, "merge"), data={}, timeout=10)

    assert answer.status_code == 200 and "Merged." in answer.text
    pr = client(emulator, people["alice"]).get_pull(number)
    assert pr.merged and pr.merged_by.login == "maintainer" and pr.state == "closed"
    assert "Approve</button>" not in answer.text  # a merged pull request offers no buttons


def test_a_merge_the_api_refuses_is_shown_on_the_page(emulator, people):
    first = open_pull(emulator, "conflict-a", files={"projects/app/main.tf": "# a\n"})
    second = open_pull(emulator, "conflict-b", files={"projects/app/main.tf": "# b\n"})
    emulator.merge(first)

    answer = requests.post(ui(emulator, OWNER, NAME, "pull", second, "merge"), data={"login": "maintainer"},
                           timeout=10)

    assert answer.status_code == 405
    assert "Pull Request is not mergeable" in answer.text and "Traceback" not in answer.text
    assert not client(emulator, people["alice"]).get_pull(second).merged


def test_a_form_posted_from_another_site_does_nothing(emulator, people):
    number = open_pull(emulator, "cross-site")

    answer = requests.post(ui(emulator, OWNER, NAME, "pull", number, "approve"), data={"login": "alice"},
                           headers={"Origin": "http://evil.example"}, timeout=10)

    assert answer.status_code == 403
    assert list(client(emulator, people["alice"]).get_pull(number).get_reviews()) == []


def test_the_repository_page_lists_pull_requests_issues_and_releases(emulator, people):
    emulator.create_issue("Drift in app (prod)", "Resources changed outside Terraform", labels=["drift"])
    listed = open_pull(emulator, "listed")
    bot = client(emulator, people["pipeline"])
    bot.create_git_release("app-v1.2.0", "app v1.2.0", "## Changes\n\n- a **bucket** for logs (#1)")

    page = requests.get(ui(emulator, OWNER, NAME), timeout=10).text
    index = requests.get(ui(emulator), timeout=10).text

    assert "Drift in app (prod)" in page and "drift" in page
    assert "app-v1.2.0" in page and "<h2>Changes</h2>" in page and "<strong>bucket</strong>" in page
    assert "Change listed" in page and f"/ui/{OWNER}/{NAME}/pull/{listed}" in page
    assert f"/ui/{OWNER}/{NAME}" in index
    assert requests.get(ui(emulator, OWNER, "nothing-here"), timeout=10).status_code == 404
