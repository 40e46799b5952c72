"""The index of repositories, a repository's page (pull requests, issues, Releases) and an issue's page."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import markdown
from .layout import esc, link, page, state, table, url

if TYPE_CHECKING:
    from ..models import Comment, Issue
    from ..repo_state import RepoState
    from ..state import EmulatorState


def index(emulator: "EmulatorState") -> str:
    rows = []
    for repo in sorted(emulator.repos.values(), key=lambda r: r.full_name.lower()):
        open_pulls = sum(pr.state == "open" for pr in repo.pulls.values())
        open_issues = sum(i.state == "open" and i.number not in repo.pulls for i in repo.issues.values())
        fork = f" (fork of {esc(repo.parent.full_name)})" if repo.parent else ""
        rows.append([link(repo.full_name, url(repo.owner, repo.name)) + fork, esc(open_pulls), esc(open_issues),
                     esc(len(repo.releases))])
    body = ("<h1>Repositories</h1>"
            + table(["repository", "open pull requests", "open issues", "Releases"], rows, "No repositories yet."))
    return page("Repositories", [], body)


def pull_state(repo: "RepoState", number: int) -> tuple[str, str]:
    """(label, colour) of a pull request: draft, open, merged or closed."""
    pr = repo.pulls[number]
    if pr.merged:
        return "merged", "merged"
    if pr.state == "open" and pr.draft:
        return "draft", "draft"
    return pr.state, pr.state


def _colour(repo: "RepoState", name: str) -> str:
    label = repo.label(name)
    return label.color if label and re.fullmatch(r"[0-9a-f]{6}", label.color) else "ededed"


def labels(repo: "RepoState", issue: "Issue") -> str:
    return " ".join(f'<span class="state" style="background:#{_colour(repo, n)};color:#1f2328">{esc(n)}</span>'
                    for n in issue.labels)


def repository(repo: "RepoState") -> str:
    pulls = sorted(repo.pulls.values(), key=lambda pr: pr.number, reverse=True)
    pull_rows = [[esc(f"#{pr.number}"), link(pr.issue.title, url(repo.owner, repo.name, "pull", pr.number)),
                  state(*pull_state(repo, pr.number)), esc(pr.issue.user), esc(f"{pr.head} → {pr.base}")]
                 for pr in pulls]
    issues = sorted((i for i in repo.issues.values() if i.number not in repo.pulls), key=lambda i: i.number,
                    reverse=True)
    issue_rows = [[esc(f"#{i.number}"), link(i.title, url(repo.owner, repo.name, "issues", i.number)) + " "
                   + labels(repo, i), state(i.state), esc(i.user), esc(len(repo.comments_on(i.number)))]
                  for i in issues]
    latest = repo.latest_release()
    releases = []
    for rel in sorted(repo.releases.values(), key=lambda r: (r.published_at or r.created_at, r.id), reverse=True):
        kinds = [k for k, on in (("draft", rel.draft), ("prerelease", rel.prerelease), ("latest", rel is latest)) if on]
        badges = " ".join(state(k, "open" if k == "latest" else "pending") for k in kinds)
        releases.append(f'<div class="box" id="release-{esc(rel.id)}"><h3>{esc(rel.name or rel.tag_name)} '
                        f"<code>{esc(rel.tag_name)}</code> {badges}</h3>"
                        f'<p class="meta">by {esc(rel.author)} · {esc(rel.published_at or "not published")} · '
                        f"target {esc(rel.target_commitish)}</p>{markdown.render(rel.body)}</div>")
    body = (f"<h1>{esc(repo.full_name)}</h1>"
            f'<p class="meta">default branch <code>{esc(repo.default_branch)}</code> · git {esc(repo.git.path)}</p>'
            "<h2>Pull requests</h2>"
            + table(["#", "title", "state", "author", "branches"], pull_rows, "No pull requests.")
            + "<h2>Issues</h2>"
            + table(["#", "title", "state", "author", "comments"], issue_rows, "No issues.")
            + "<h2>Releases</h2>" + ("".join(releases) or '<p class="meta">No Releases.</p>'))
    return page(repo.full_name, [(repo.full_name, url(repo.owner, repo.name))], body)


def conversation(comments: list["Comment"]) -> str:
    """Comments, oldest first, their markdown rendered."""
    if not comments:
        return '<p class="meta">No comments.</p>'
    return "".join(f'<div class="box" id="comment-{esc(c.id)}"><p class="meta"><b>{esc(c.user)}</b> commented at '
                   f"{esc(c.created_at)}" + (f" (edited {esc(c.updated_at)})" if c.updated_at != c.created_at else "")
                   + f"</p>{markdown.render(c.body)}</div>"
                   for c in sorted(comments, key=lambda c: (c.created_at, c.id)))


def issue(repo: "RepoState", number: int) -> str:
    item = repo.issues[number]
    closed = f" · closed {esc(item.closed_at)} ({esc(item.state_reason)})" if item.state == "closed" else ""
    linked = [pr for pr in repo.pulls.values() if number in closing_refs(pr.issue.body)]
    links = ", ".join(link(f"#{pr.number} {pr.issue.title}", url(repo.owner, repo.name, "pull", pr.number))
                      for pr in linked)
    body = (f"<h1>{markdown.inline(item.title)} <span class=\"meta\">#{esc(number)}</span></h1>"
            f"<p>{state(item.state)} {labels(repo, item)} <span class=\"meta\">opened by {esc(item.user)} at "
            f"{esc(item.created_at)}{closed}</span></p>"
            + (f"<p>Pull requests that close it: {links}</p>" if linked else "")
            + f'<div class="box">{markdown.render(item.body) or "<p class=meta>No description.</p>"}</div>'
            + "<h2>Comments</h2>" + conversation(repo.comments_on(number)))
    return page(f"{item.title} #{number}", [(repo.full_name, url(repo.owner, repo.name)),
                                            (f"#{number}", url(repo.owner, repo.name, "issues", number))], body)


def closing_refs(body: str | None) -> list[int]:
    """The issue numbers a pull request body closes with GitHub's keywords (`Fixes #3`, `closes #4`)."""
    found = re.findall(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b", body or "")
    return list(dict.fromkeys(int(n) for n in found))
