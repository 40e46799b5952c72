"""A pull request's page: what it changes and closes, its checks with their annotations, the conversation (plan
comments rendered), reviews, deployments, and the Approve and Merge forms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import markdown
from .actions import MERGE_METHODS, people
from .layout import esc, link, page, select, short, state, table, url
from .views import closing_refs, conversation, labels, pull_state

if TYPE_CHECKING:
    from ..models import CheckRun, PullRequest
    from ..repo_state import RepoState

NOTICES = {"approved": "Approved.", "merged": "Merged."}


def _latest_runs(repo: "RepoState", sha: str) -> list["CheckRun"]:
    """The newest run of each check name on sha, as GitHub lists a commit's checks."""
    newest: dict[str, CheckRun] = {}
    for run in sorted((r for r in repo.check_runs.values() if r.head_sha == sha), key=lambda r: r.id, reverse=True):
        newest.setdefault(run.name, run)
    return sorted(newest.values(), key=lambda r: r.name)


def _annotations(run: "CheckRun") -> str:
    rows = []
    for note in (run.output or {}).get("annotations") or []:
        start, end = note.get("start_line"), note.get("end_line")
        where = f"{note.get('path', '')}:{start}" + (f"-{end}" if end not in (None, start) else "")
        text = esc(note.get("message")) + (f"<pre>{esc(note['raw_details'])}</pre>" if note.get("raw_details") else "")
        rows.append([f"<code>{esc(where)}</code>", state(note.get("annotation_level", "notice"),
                                                         {"warning": "pending"}.get(note.get("annotation_level"),
                                                                                    note.get("annotation_level"))),
                     esc(note.get("title") or ""), text])
    return table(["where", "level", "title", "message"], rows, "No annotations.") if rows else ""


def checks(repo: "RepoState", pr: "PullRequest") -> str:
    parts = []
    for run in _latest_runs(repo, pr.head_sha):
        out = run.output or {}
        outcome = run.conclusion or run.status
        details = f" · {link('details', run.details_url)}" if run.details_url else ""
        parts.append(f'<div class="box" id="check-{esc(run.id)}"><h3>{esc(run.name)} {state(outcome)}</h3>'
                     f'<p class="meta">started {esc(run.started_at)}'
                     + (f" · completed {esc(run.completed_at)}" if run.completed_at else "") + details + "</p>"
                     + (f"<h4>{markdown.inline(out['title'])}</h4>" if out.get("title") else "")
                     + markdown.render(out.get("summary")) + markdown.render(out.get("text"))
                     + _annotations(run) + "</div>")
    latest = {}
    for st in repo.statuses:
        if st.sha == pr.head_sha:
            latest[st.context] = st
    rows = [[esc(st.context), state(st.state), esc(st.description or ""),
             link("details", st.target_url) if st.target_url else ""] for st in latest.values()]
    statuses = table(["context", "state", "description", ""], rows, "") if rows else ""
    if not parts and not statuses:
        return f'<p class="meta">No checks on {short(pr.head_sha)} yet.</p>'
    return "".join(parts) + statuses


def reviews(repo: "RepoState", pr: "PullRequest") -> str:
    rows = []
    for review in repo.reviews_of(pr.number):
        where = short(review.commit_id) + (" (the head)" if review.commit_id == pr.head_sha else " (outdated)")
        rows.append([esc(review.user), state(review.state), where, esc(review.submitted_at or "pending"),
                     markdown.render(review.body)])
    return table(["reviewer", "state", "commit", "submitted", "comment"], rows, "No reviews yet.")


def deployments(repo: "RepoState", pr: "PullRequest") -> str:
    """Deployments of the head or the merge commit, each with its statuses, newest first."""
    shas = {pr.head_sha, pr.merge_commit_sha} - {None}
    found = sorted((d for d in repo.deployments.values() if d.sha in shas or d.ref == pr.head),
                   key=lambda d: d.id, reverse=True)
    boxes = []
    for d in found:
        rows = [[state(s.state), esc(s.description), esc(s.created_at), esc(s.creator),
                 (link("log", s.log_url) if s.log_url else "")
                 + (" " + link("environment", s.environment_url) if s.environment_url else "")]
                for s in reversed(d.statuses)]
        boxes.append(f'<div class="box"><h3>{esc(d.environment)} {state(d.state or "created", d.state or "")}</h3>'
                     f'<p class="meta">{esc(d.task)} of {short(d.sha)} (ref {esc(d.ref)}) by {esc(d.creator)} at '
                     f"{esc(d.created_at)}" + (f" · {esc(d.description)}" if d.description else "") + "</p>"
                     + table(["state", "description", "at", "by", ""], rows, "No statuses yet.") + "</div>")
    return "".join(boxes) or '<p class="meta">No deployments.</p>'


def linked_issues(repo: "RepoState", pr: "PullRequest") -> str:
    rows = []
    for number in closing_refs(pr.issue.body):
        item = repo.issues.get(number)
        if item is None or number in repo.pulls:
            rows.append([esc(f"#{number}"), '<span class="meta">no such issue in this repository</span>', ""])
        else:
            rows.append([esc(f"#{number}"), link(item.title, url(repo.owner, repo.name, "issues", number)),
                         state(item.state)])
    return table(["#", "issue", "state"], rows, "No linked issue: \"Fixes #N\" in the description links one.")


def actions(repo: "RepoState", pr: "PullRequest") -> str:
    if pr.state != "open":
        by = f" by {esc(pr.merged_by)} as {short(pr.merge_commit_sha)}" if pr.merged else ""
        return f"<p>This pull request is {esc(pull_state(repo, pr.number)[0])}{by}.</p>"
    who = people(repo, pr)
    base = url(repo.owner, repo.name, "pull", pr.number)
    head = f'<input type="hidden" name="head_sha" value="{esc(pr.head_sha)}">'
    mergeable = repo.git.mergeable(pr.base_sha, pr.head_sha)
    return (f'<form method="post" action="{esc(base)}/approve">{head}<label>Approve {short(pr.head_sha)} as '
            f'{select("login", who.reviewers, who.reviewer)}</label> <button type="submit">Approve</button></form>'
            f'<form method="post" action="{esc(base)}/merge">{head}<label>Merge as '
            f'{select("login", who.mergers, who.merger)}</label> '
            f'{select("merge_method", list(MERGE_METHODS), "merge")} <button type="submit">Merge</button></form>'
            + ("" if mergeable else '<p class="meta">git cannot merge the head into the base cleanly.</p>'))


def pull(repo: "RepoState", number: int, *, notice: str | None = None, problem: str | None = None) -> str:
    """The whole page of pull request number; notice (a key of NOTICES) or problem (text) shown on top."""
    pr = repo.pulls[number]
    label, colour = pull_state(repo, number)
    flash = ""
    if notice in NOTICES:
        flash = f'<div class="box notice">{esc(NOTICES[notice])}</div>'
    if problem:
        flash += f'<div class="box problem" role="alert"><b>Refused:</b> {esc(problem)}</div>'
    body = (f"<h1>{markdown.inline(pr.issue.title)} <span class=\"meta\">#{esc(number)}</span></h1>"
            f"<p>{state(label, colour)} {labels(repo, pr.issue)} <span class=\"meta\">{esc(pr.issue.user)} wants to "
            f"merge <code>{esc(repo.head_owner(pr))}:{esc(pr.head)}</code> into <code>{esc(pr.base)}</code> · head "
            f"{short(pr.head_sha)} · opened {esc(pr.issue.created_at)}</span></p>{flash}"
            f'<div class="box">{markdown.render(pr.issue.body) or "<p class=meta>No description.</p>"}</div>'
            + "<h2>Linked issue</h2>" + linked_issues(repo, pr)
            + "<h2>Checks</h2>" + checks(repo, pr)
            + "<h2>Conversation</h2>" + conversation(repo.comments_on(number))
            + "<h2>Reviews</h2>" + reviews(repo, pr)
            + "<h2>Deployments</h2>" + deployments(repo, pr)
            + "<h2>Approve and merge</h2>" + actions(repo, pr))
    return page(f"{pr.issue.title} #{number}", [(repo.full_name, url(repo.owner, repo.name)),
                                                (f"#{number}", url(repo.owner, repo.name, "pull", number))], body)
