"""REST bodies for pull requests and issues, and the rate-limit overview."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import Issue, PullRequest
from .rest_payloads import api, author_association, labels_of, link, node_id, reactions, repository, user, web

if TYPE_CHECKING:
    from .repo_state import RepoState
    from .state import EmulatorState


def _pr_links(repo: "RepoState", pr: PullRequest) -> dict:
    a, n = api(repo), pr.number
    return {"self": link(f"{a}/pulls/{n}"), "html": link(f"{web(repo)}/pull/{n}"), "issue": link(f"{a}/issues/{n}"),
            "comments": link(f"{a}/issues/{n}/comments"), "review_comments": link(f"{a}/pulls/{n}/comments"),
            "review_comment": link(f"{a}/pulls/comments{{/number}}"), "commits": link(f"{a}/pulls/{n}/commits"),
            "statuses": link(f"{a}/statuses/{pr.head_sha}")}


def _side(repo: "RepoState", branch: str, sha: str, repo_body: dict) -> dict:
    return {"label": f"{repo.owner}:{branch}", "ref": branch, "sha": sha, "user": user(repo.state, repo.owner),
            "repo": repo_body}


def pull_request(repo: "RepoState", pr: PullRequest, *, simple: bool = False) -> dict:
    """`pull-request` (simple=False) or `pull-request-simple` (the list shape, without counts from git)."""
    a, w, n, issue = api(repo), web(repo), pr.number, pr.issue
    repo_body = repository(repo)
    source = repo.head_repo(pr)  # a fork's pull request has its head there
    head_body = repo_body if source is repo else repository(source)
    body = {
        "url": f"{a}/pulls/{n}", "id": pr.id, "node_id": node_id("PullRequest", pr.id), "html_url": f"{w}/pull/{n}",
        "diff_url": f"{w}/pull/{n}.diff", "patch_url": f"{w}/pull/{n}.patch", "issue_url": f"{a}/issues/{n}",
        "commits_url": f"{a}/pulls/{n}/commits", "review_comments_url": f"{a}/pulls/{n}/comments",
        "review_comment_url": f"{a}/pulls/comments{{/number}}", "comments_url": f"{a}/issues/{n}/comments",
        "statuses_url": f"{a}/statuses/{pr.head_sha}", "number": n, "state": issue.state, "locked": False,
        "title": issue.title, "user": user(repo.state, issue.user), "body": issue.body,
        "labels": labels_of(repo, issue.labels),
        "milestone": None, "active_lock_reason": None, "created_at": issue.created_at, "updated_at": issue.updated_at,
        "closed_at": issue.closed_at, "merged_at": pr.merged_at, "merge_commit_sha": pr.merge_commit_sha,
        "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "head": _side(source, pr.head, pr.head_sha, head_body), "base": _side(repo, pr.base, pr.base_sha, repo_body),
        "_links": _pr_links(repo, pr), "author_association": author_association(repo, issue.user),
        "auto_merge": None, "draft": pr.draft,
    }
    if simple:
        for item in body["labels"]:  # pull-request-simple types a label's description as a string, never null
            item["description"] = item["description"] or ""
        return body
    git = repo.git
    merge_base = git.merge_base(pr.base_sha, pr.head_sha) or pr.base_sha
    changes = git.diff(merge_base, pr.head_sha)
    mergeable = git.mergeable(pr.base_sha, pr.head_sha) if issue.state == "open" else None
    body.update({
        "merged": pr.merged, "mergeable": mergeable, "rebaseable": mergeable,
        "mergeable_state": "unknown" if mergeable is None else "clean" if mergeable else "dirty",
        "merged_by": user(repo.state, pr.merged_by) if pr.merged_by else None,
        "comments": len(repo.comments_on(n)), "review_comments": 0, "maintainer_can_modify": False,
        "commits": git.count(pr.head_sha, pr.base_sha), "additions": sum(c.additions for c in changes),
        "deletions": sum(c.deletions for c in changes), "changed_files": len(changes),
    })
    return body


def issue(repo: "RepoState", item: Issue) -> dict:
    """GitHub's `issue` shape; the issue half of a pull request carries `pull_request` (as in `GET /issues`)."""
    a, w, n = api(repo), web(repo), item.number
    body = {
        "id": item.id, "node_id": node_id("Issue", item.id), "url": f"{a}/issues/{n}", "repository_url": a,
        "labels_url": f"{a}/issues/{n}/labels{{/name}}", "comments_url": f"{a}/issues/{n}/comments",
        "events_url": f"{a}/issues/{n}/events", "html_url": f"{w}/issues/{n}", "number": n, "state": item.state,
        "state_reason": item.state_reason, "title": item.title, "body": item.body,
        "user": user(repo.state, item.user), "labels": labels_of(repo, item.labels), "assignee": None,
        "assignees": [], "milestone": None,
        "locked": False, "active_lock_reason": None, "comments": len(repo.comments_on(n)),
        "created_at": item.created_at, "updated_at": item.updated_at, "closed_at": item.closed_at,
        "author_association": author_association(repo, item.user),
        "closed_by": user(repo.state, item.closed_by) if item.closed_by else None,
        "timeline_url": f"{a}/issues/{n}/timeline", "performed_via_github_app": None,
        "reactions": reactions(f"{a}/issues/{n}"),
    }
    pr = repo.pulls.get(n)
    if pr:
        body["html_url"] = f"{w}/pull/{n}"
        body["pull_request"] = {"url": f"{a}/pulls/{n}", "html_url": f"{w}/pull/{n}", "diff_url": f"{w}/pull/{n}.diff",
                                "patch_url": f"{w}/pull/{n}.patch", "merged_at": pr.merged_at}
        body["draft"] = pr.draft
    return body


def rate_limit(state: "EmulatorState") -> dict:
    rate = state.rate
    core = {"limit": rate.limit, "remaining": rate.remaining, "reset": rate.reset, "used": rate.used}
    other = {"limit": 30, "remaining": 30, "reset": rate.reset, "used": 0}
    return {"resources": {"core": core, "search": dict(other), "graphql": {**core, "used": 0, "remaining": rate.limit}},
            "rate": core}
