"""JSON bodies of the REST API, shaped by the schemas of GitHub's OpenAPI description (see the contract folder).

Every URL points back at the emulator, so PyGithub can follow `url` fields (comment.edit, check_run.edit, ...).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING
from urllib.parse import quote

from .git import FileChange
from .models import CheckRun, Comment, CommitStatus, Deployment, DeploymentStatus, Label, Release, Review

if TYPE_CHECKING:
    from .repo_state import RepoState
    from .state import EmulatorState

APP_SLUG = "gitops-pipelines"
APP_ID = 1


def node_id(kind: str, ident: int | str) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def api(repo: "RepoState") -> str:
    return f"{repo.state.base_url}/repos/{repo.owner}/{repo.name}"


def web(repo: "RepoState") -> str:
    return f"{repo.state.base_url}/{repo.owner}/{repo.name}"


def user(state: "EmulatorState", login: str) -> dict:
    base, name, uid = state.base_url, quote(login), state.user_id(login)
    u = f"{base}/users/{name}"
    return {
        "login": login, "id": uid, "node_id": node_id("User", uid), "avatar_url": f"{base}/avatars/u/{uid}?v=4",
        "gravatar_id": "", "url": u, "html_url": f"{base}/{name}", "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}", "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs", "repos_url": f"{u}/repos", "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events", "type": "Bot" if login.endswith("[bot]") else "User",
        "site_admin": False, "user_view_type": "public",
    }


def app(state: "EmulatorState", owner: str) -> dict:
    return {
        "id": APP_ID, "slug": APP_SLUG, "node_id": node_id("Integration", APP_ID), "client_id": "Iv1.emulator",
        "owner": user(state, owner), "name": "GitOps Pipelines", "description": "GitOps delivery of Terraform",
        "external_url": state.base_url, "html_url": f"{state.base_url}/apps/{APP_SLUG}",
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "permissions": {"checks": "write", "contents": "write", "issues": "write", "metadata": "read"},
        "events": ["check_run", "pull_request", "pull_request_review", "push", "release"],
    }


def repository(repo: "RepoState") -> dict:
    """A superset of GitHub's repository, full-repository and minimal-repository shapes."""
    a, w, s = api(repo), web(repo), repo.state.base_url
    open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
    body = {"id": repo.id, "node_id": node_id("Repository", repo.id), "name": repo.name,
            "full_name": repo.full_name, "owner": user(repo.state, repo.owner), "private": True, "html_url": w,
            "description": None, "fork": repo.parent is not None, "url": a}
    templates = {
        "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
        "branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
        "comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
        "downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}",
        "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}", "hooks_url": "/hooks",
        "issue_comment_url": "/issues/comments{/number}", "issue_events_url": "/issues/events{/number}",
        "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
        "languages_url": "/languages", "merges_url": "/merges", "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
        "releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
        "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
        "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
    }
    body.update({key: a + suffix for key, suffix in templates.items()})
    host = s.split("://", 1)[-1]
    body.update({
        "git_url": f"git://{host}/{repo.full_name}.git", "ssh_url": f"git@{host.split(':')[0]}:{repo.full_name}.git",
        "clone_url": f"{w}.git", "svn_url": w, "mirror_url": None, "homepage": None, "language": "HCL",
        "forks_count": 0, "stargazers_count": 0, "watchers_count": 0, "size": 0, "default_branch": repo.default_branch,
        "open_issues_count": open_issues, "is_template": False, "topics": [], "has_issues": True,
        "has_projects": False, "has_wiki": False, "has_pages": False, "has_downloads": True,
        "has_discussions": False, "archived": False, "disabled": False, "visibility": "private",
        "pushed_at": repo.pushed_at, "created_at": repo.created_at, "updated_at": repo.updated_at,
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        "allow_rebase_merge": True, "allow_squash_merge": True, "allow_auto_merge": False,
        "delete_branch_on_merge": False, "allow_merge_commit": True, "allow_forking": True,
        "web_commit_signoff_required": False, "subscribers_count": 1, "network_count": 0, "license": None,
        "forks": 0, "open_issues": open_issues, "watchers": 0,
    })
    return body


def link(href: str) -> dict:
    return {"href": href}


def author_association(repo: "RepoState", login: str) -> str:
    return "OWNER" if login == repo.owner else "COLLABORATOR"


def reactions(url: str) -> dict:
    return {"url": f"{url}/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "confused": 0, "heart": 0,
            "hooray": 0, "eyes": 0, "rocket": 0}


def comment(repo: "RepoState", c: Comment) -> dict:
    url = f"{api(repo)}/issues/comments/{c.id}"
    kind = "pull" if c.issue_number in repo.pulls else "issues"
    return {"id": c.id, "node_id": node_id("IssueComment", c.id), "url": url,
            "html_url": f"{web(repo)}/{kind}/{c.issue_number}#issuecomment-{c.id}", "body": c.body,
            "user": user(repo.state, c.user), "created_at": c.created_at, "updated_at": c.updated_at,
            "issue_url": f"{api(repo)}/issues/{c.issue_number}", "author_association": author_association(repo, c.user),
            "performed_via_github_app": None, "reactions": reactions(url)}


def label(repo: "RepoState", lab: Label) -> dict:
    return {"id": lab.id, "node_id": node_id("Label", lab.id), "url": f"{api(repo)}/labels/{quote(lab.name)}",
            "name": lab.name, "description": lab.description, "color": lab.color, "default": lab.default}


def labels_of(repo: "RepoState", names: list[str]) -> list[dict]:
    return [label(repo, repo.label(name)) for name in names if repo.label(name)]


def review(repo: "RepoState", r: Review) -> dict:
    html = f"{web(repo)}/pull/{r.pull_number}#pullrequestreview-{r.id}"
    pr_url = f"{api(repo)}/pulls/{r.pull_number}"
    return {"id": r.id, "node_id": node_id("PullRequestReview", r.id), "user": user(repo.state, r.user),
            "body": r.body, "state": r.state, "html_url": html, "pull_request_url": pr_url,
            "_links": {"html": link(html), "pull_request": link(pr_url)},
            **({"submitted_at": r.submitted_at} if r.submitted_at else {}),  # a pending review has none
            "commit_id": r.commit_id, "author_association": author_association(repo, r.user)}


def pull_minimal(repo: "RepoState", pr) -> dict:
    ref = {"id": repo.id, "url": api(repo), "name": repo.name}
    source = repo.head_repo(pr)
    head = ref if source is repo else {"id": source.id, "url": api(source), "name": source.name}
    return {"id": pr.id, "number": pr.number, "url": f"{api(repo)}/pulls/{pr.number}",
            "head": {"ref": pr.head, "sha": pr.head_sha, "repo": head},
            "base": {"ref": pr.base, "sha": pr.base_sha, "repo": ref}}


def check_run(repo: "RepoState", run: CheckRun) -> dict:
    url = f"{api(repo)}/check-runs/{run.id}"
    out = run.output or {}
    prs = [pull_minimal(repo, pr) for pr in repo.pulls.values() if pr.state == "open" and pr.head_sha == run.head_sha]
    return {"id": run.id, "head_sha": run.head_sha, "node_id": node_id("CheckRun", run.id),
            "external_id": run.external_id or "", "url": url, "html_url": f"{web(repo)}/runs/{run.id}",
            "details_url": run.details_url or f"{web(repo)}/runs/{run.id}", "status": run.status,
            "conclusion": run.conclusion, "started_at": run.started_at, "completed_at": run.completed_at,
            "output": {"title": out.get("title"), "summary": out.get("summary"), "text": out.get("text"),
                       "annotations_count": len(out.get("annotations") or []), "annotations_url": f"{url}/annotations"},
            "name": run.name, "check_suite": {"id": run.suite_id}, "app": app(repo.state, repo.owner),
            "pull_requests": prs}


def status(repo: "RepoState", st: CommitStatus) -> dict:
    return {"url": f"{api(repo)}/statuses/{st.sha}", "avatar_url": user(repo.state, st.creator)["avatar_url"],
            "id": st.id, "node_id": node_id("StatusContext", st.id), "state": st.state, "description": st.description,
            "target_url": st.target_url, "context": st.context, "created_at": st.created_at,
            "updated_at": st.updated_at, "creator": user(repo.state, st.creator)}


def combined_status(repo: "RepoState", ref: str, sha: str) -> dict:
    latest: dict[str, CommitStatus] = {}
    for st in repo.statuses:
        if st.sha == sha:
            latest[st.context] = st
    states = [st.state for st in latest.values()]
    overall = ("failure" if any(s in ("failure", "error") for s in states)
               else "success" if states and all(s == "success" for s in states) else "pending")
    simple = []
    for st in sorted(latest.values(), key=lambda st: st.id, reverse=True):
        body = status(repo, st)
        body.pop("creator")
        body["required"] = False
        simple.append(body)
    return {"state": overall, "statuses": simple, "sha": sha, "total_count": len(simple),
            "repository": repository(repo), "commit_url": f"{api(repo)}/commits/{sha}",
            "url": f"{api(repo)}/commits/{quote(ref, safe='')}/status"}


def release(repo: "RepoState", rel: Release) -> dict:
    url = f"{api(repo)}/releases/{rel.id}"
    return {"url": url, "html_url": f"{web(repo)}/releases/tag/{quote(rel.tag_name)}", "assets_url": f"{url}/assets",
            "upload_url": f"{url}/assets{{?name,label}}", "tarball_url": f"{api(repo)}/tarball/{quote(rel.tag_name)}",
            "zipball_url": f"{api(repo)}/zipball/{quote(rel.tag_name)}", "id": rel.id,
            "node_id": node_id("Release", rel.id), "tag_name": rel.tag_name, "target_commitish": rel.target_commitish,
            "name": rel.name, "body": rel.body, "draft": rel.draft, "prerelease": rel.prerelease, "immutable": False,
            "created_at": rel.created_at, "published_at": rel.published_at,
            "updated_at": rel.updated_at or rel.published_at or rel.created_at,
            "author": user(repo.state, rel.author), "assets": []}


def _via_app(repo: "RepoState", login: str) -> dict | None:
    """GitHub names the App behind what an installation token created; the emulator's bot login is that App."""
    return app(repo.state, repo.owner) if login.endswith("[bot]") else None


def deployment(repo: "RepoState", d: Deployment) -> dict:
    url = f"{api(repo)}/deployments/{d.id}"
    return {"url": url, "id": d.id, "node_id": node_id("Deployment", d.id), "sha": d.sha, "ref": d.ref,
            "task": d.task, "payload": d.payload, "original_environment": d.original_environment or d.environment,
            "environment": d.environment, "description": d.description, "creator": user(repo.state, d.creator),
            "created_at": d.created_at, "updated_at": d.updated_at, "statuses_url": f"{url}/statuses",
            "repository_url": api(repo), "transient_environment": d.transient_environment,
            "production_environment": d.production_environment,
            "performed_via_github_app": _via_app(repo, d.creator)}


def deployment_status(repo: "RepoState", d: Deployment, st: DeploymentStatus) -> dict:
    deployment_url = f"{api(repo)}/deployments/{d.id}"
    return {"url": f"{deployment_url}/statuses/{st.id}", "id": st.id, "node_id": node_id("DeploymentStatus", st.id),
            "state": st.state, "creator": user(repo.state, st.creator), "description": st.description,
            "environment": st.environment, "target_url": st.log_url, "created_at": st.created_at,
            "updated_at": st.created_at, "deployment_url": deployment_url, "repository_url": api(repo),
            "environment_url": st.environment_url, "log_url": st.log_url,
            "performed_via_github_app": _via_app(repo, st.creator)}


def tag(repo: "RepoState", name: str, sha: str) -> dict:
    return {"name": name, "commit": {"sha": sha, "url": f"{api(repo)}/commits/{sha}"},
            "zipball_url": f"{api(repo)}/zipball/refs/tags/{quote(name)}",
            "tarball_url": f"{api(repo)}/tarball/refs/tags/{quote(name)}", "node_id": node_id("Ref", f"tags/{name}")}


def git_object(repo: "RepoState", kind: str, sha: str) -> dict:
    """What a ref or tag points at: `{type, sha, url}`, the url under `/git/commits`, `/git/tags`, ... by type."""
    return {"type": kind, "sha": sha, "url": f"{api(repo)}/git/{kind}s/{sha}"}


def git_ref(repo: "RepoState", ref: str, sha: str, kind: str = "commit") -> dict:
    return {"ref": ref, "node_id": node_id("Ref", ref), "url": f"{api(repo)}/git/{ref}",
            "object": git_object(repo, kind, sha)}


def diff_entry(repo: "RepoState", change: FileChange, ref: str) -> dict:
    path = quote(change.filename)
    body = {"sha": change.blob_sha, "filename": change.filename, "status": change.status,
            "additions": change.additions, "deletions": change.deletions, "changes": change.additions + change.deletions,
            "blob_url": f"{web(repo)}/blob/{ref}/{path}", "raw_url": f"{web(repo)}/raw/{ref}/{path}",
            "contents_url": f"{api(repo)}/contents/{path}?ref={ref}", "patch": change.patch}
    if change.previous_filename:
        body["previous_filename"] = change.previous_filename
    return body


def error(message: str, status: int, **extra) -> dict:
    return {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status), **extra}


def validation_failed(resource: str, field: str, code: str = "invalid", message: str | None = None) -> dict:
    item = {"resource": resource, **({"field": field} if field else {}), "code": code,
            **({"message": message} if message else {})}
    return error("Validation Failed", 422, errors=[item])
