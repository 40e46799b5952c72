"""Webhook payloads, built from GitHub's real example payloads (the contract folder) filled with the emulator's values.

A real example fixes the shape (the octokit schemas forbid unknown keys); `conform` keeps exactly its keys and
takes every value from the emulator's own REST bodies, so merged PRs, approvals and pushes to main come out right
although GitHub publishes no example of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import rest_payloads as rest
from . import rest_pulls
from .git import ZERO_SHA

if TYPE_CHECKING:
    from .models import Label, PullRequest, Release, Review
    from .repo_state import RepoState

# Keys whose example value is null but whose real value may be an object of a known kind.
_NULLABLE_USERS = {"merged_by", "assignee", "closed_by"}


def _example(repo: "RepoState", event: str, name: str) -> dict[str, Any]:
    return repo.state.contract.webhook_example(event, name)


def _templates(repo: "RepoState") -> dict[str, Any]:
    opened = _example(repo, "pull_request", "opened")
    return {"user": opened["sender"], "pull_request": opened["pull_request"], "repository": opened["repository"]}


def conform(template: Any, value: Any, key: str | None = None, users: dict | None = None) -> Any:
    """value, cut to template's keys (recursively); ISO dates become epoch seconds where the template has integers."""
    if isinstance(template, dict) and isinstance(value, dict):
        return {k: conform(t, value[k], k, users) if k in value else t for k, t in template.items()}
    if isinstance(template, list) and isinstance(value, list):
        return [conform(template[0], v, key, users) for v in value] if template else value
    if template is None and isinstance(value, dict) and key in _NULLABLE_USERS and users is not None:
        return conform(users, value, key, users)
    if isinstance(template, int) and not isinstance(template, bool) and isinstance(value, str):
        return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").timestamp()) if value.endswith("Z") else value
    return value


def _sender(repo: "RepoState", login: str) -> dict:
    return conform(_templates(repo)["user"], rest.user(repo.state, login))


def _repository(repo: "RepoState", template: dict | None = None) -> dict:
    return conform(template or _templates(repo)["repository"], rest.repository(repo))


def _pull(repo: "RepoState", pr: "PullRequest", template: dict | None = None) -> dict:
    t = _templates(repo)
    return conform(template or t["pull_request"], rest_pulls.pull_request(repo, pr), users=t["user"])


def pull_request(repo: "RepoState", pr: "PullRequest", action: str, sender: str, *, before: str | None = None) -> dict:
    """pull_request.<action>: opened, synchronize, closed (merged or not), reopened."""
    payload = {"action": action, "number": pr.number, "pull_request": _pull(repo, pr)}
    if action == "synchronize":
        payload.update({"before": before or ZERO_SHA, "after": pr.head_sha})
    payload.update({"repository": _repository(repo), "sender": _sender(repo, sender)})
    return payload


def labeled(repo: "RepoState", pr: "PullRequest", label: "Label", sender: str) -> dict:
    """pull_request.labeled: the pull request (with its labels, the new one included) and the label added."""
    example = _example(repo, "pull_request", "labeled")
    return {"action": "labeled", "number": pr.number, "pull_request": _pull(repo, pr, example["pull_request"]),
            "label": conform(example["label"], rest.label(repo, label)), "repository": _repository(repo),
            "sender": _sender(repo, sender)}


def review_submitted(repo: "RepoState", pr: "PullRequest", review: "Review") -> dict:
    """pull_request_review.submitted; the review state is lower case in webhooks (`approved`)."""
    example = _example(repo, "pull_request_review", "submitted")
    body = conform(example["review"], rest.review(repo, review))
    body["state"] = review.state.lower()
    body["body"] = review.body or None
    return {"action": "submitted", "review": body, "pull_request": _pull(repo, pr, example["pull_request"]),
            "repository": _repository(repo), "sender": _sender(repo, review.user)}


def release(repo: "RepoState", rel: "Release", action: str) -> dict:
    """release.created / release.published."""
    example = _example(repo, "release", action)
    return {"action": action, "release": conform(example["release"], rest.release(repo, rel)),
            "repository": _repository(repo), "sender": _sender(repo, rel.author)}


def _push_commit(repo: "RepoState", sha: str, template: dict) -> dict:
    info = repo.git.commit_info(sha)
    parent = info.parents[0] if info.parents else repo.git.git("hash-object", "-t", "tree", "/dev/null").strip()
    changes = repo.git.diff(parent, sha)
    known = repo.state.users

    def person(name: str, email: str) -> dict:
        return {"name": name, "email": email, **({"username": name} if name in known else {})}

    value = {"id": sha, "tree_id": info.tree, "distinct": True, "message": info.message,
             "timestamp": info.committer_date, "url": f"{rest.web(repo)}/commit/{sha}",
             "author": person(info.author_name, info.author_email),
             "committer": person(info.committer_name, info.committer_email),
             "added": [c.filename for c in changes if c.status == "added"],
             "removed": [c.filename for c in changes if c.status == "removed"],
             "modified": [c.filename for c in changes if c.status not in ("added", "removed")]}
    return {k: value[k] for k in template if k in value}


def push(repo: "RepoState", ref: str, before: str, after: str, pusher: str) -> dict:
    """push: one ref moved from before to after (ZERO_SHA for a created or deleted ref)."""
    example = _example(repo, "push", "branch")
    created, deleted = before == ZERO_SHA, after == ZERO_SHA
    git = repo.git
    if deleted:
        shas = []
    elif created:
        others = [sha for name, sha in git.refs("refs/heads/").items() if name != ref]
        shas = git.git("rev-list", after, *[f"^{s}" for s in others]).split() if others else git.log(after)
    else:
        shas = git.log(after, exclude=before)
    forced = not created and not deleted and git.merge_base(before, after) != before
    template = example["head_commit"]
    commits = [_push_commit(repo, sha, template) for sha in reversed(shas[:20])]
    compare = (f"{rest.web(repo)}/commit/{after}" if created else
               f"{rest.web(repo)}/compare/{before[:12]}...{after[:12]}")
    # A push's repository is the older shape: web `url`, epoch dates, `master_branch`, owner with name and e-mail.
    owner = {**rest.user(repo.state, repo.owner), "name": repo.owner, "email": repo.state.email(repo.owner)}
    repository = conform(example["repository"], {**rest.repository(repo), "url": rest.web(repo), "owner": owner,
                                                 "master_branch": repo.default_branch, "stargazers": 0})
    return {"ref": ref, "before": before, "after": after, "repository": repository,
            "pusher": {"name": pusher, "email": repo.state.email(pusher)}, "sender": _sender(repo, pusher),
            "created": created, "deleted": deleted, "forced": forced, "base_ref": None, "compare": compare,
            "commits": commits, "head_commit": None if deleted else _push_commit(repo, after, template)}
