"""REST bodies read from git: commits, comparisons, branches."""

from __future__ import annotations

import base64
import posixpath
from typing import TYPE_CHECKING
from urllib.parse import quote

from .rest_payloads import api, diff_entry, git_object, node_id, user, web

if TYPE_CHECKING:
    from .git import TagInfo, TreeEntry
    from .repo_state import RepoState

MAX_INLINE_CONTENT = 1024 * 1024  # larger files come without content (`encoding: none`), as on GitHub


UNSIGNED = {"verified": False, "reason": "unsigned", "payload": None, "signature": None, "verified_at": None}


def git_user(name: str, email: str, date: str) -> dict:
    return {"name": name, "email": email, "date": date}


def git_tag(repo: "RepoState", info: "TagInfo") -> dict:
    """GitHub's `git-tag` shape: an annotated tag object as `git cat-file tag` shows it."""
    return {"node_id": node_id("Tag", info.sha), "tag": info.tag, "sha": info.sha,
            "url": f"{api(repo)}/git/tags/{info.sha}", "message": info.message,
            "tagger": git_user(info.tagger_name, info.tagger_email, info.tagger_date),
            "object": git_object(repo, info.object_type, info.object_sha), "verification": dict(UNSIGNED)}


def commit(repo: "RepoState", sha: str, *, files: bool = False) -> dict:
    """GitHub's `commit` shape; with files=True also stats and the files changed against the first parent."""
    info = repo.git.commit_info(sha)
    a, w = api(repo), web(repo)
    known = repo.state.users
    body = {
        "url": f"{a}/commits/{sha}", "sha": sha, "node_id": node_id("Commit", sha), "html_url": f"{w}/commit/{sha}",
        "comments_url": f"{a}/commits/{sha}/comments",
        "commit": {
            "url": f"{a}/git/commits/{sha}",
            "author": git_user(info.author_name, info.author_email, info.author_date),
            "committer": git_user(info.committer_name, info.committer_email, info.committer_date),
            "message": info.message, "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{a}/git/trees/{info.tree}"},
            "verification": dict(UNSIGNED),
        },
        # GitHub links a commit to an account by e-mail; the emulator by the name of a user it has seen.
        "author": user(repo.state, info.author_name) if info.author_name in known else {},
        "committer": user(repo.state, info.committer_name) if info.committer_name in known else {},
        "parents": [{"sha": p, "url": f"{a}/commits/{p}", "html_url": f"{w}/commit/{p}"} for p in info.parents],
    }
    if files:
        base = info.parents[0] if info.parents else _empty_tree(repo)
        changes = repo.git.diff(base, sha)
        additions, deletions = sum(c.additions for c in changes), sum(c.deletions for c in changes)
        body["stats"] = {"additions": additions, "deletions": deletions, "total": additions + deletions}
        body["files"] = [diff_entry(repo, c, sha) for c in changes]
    return body


def _empty_tree(repo: "RepoState") -> str:
    return repo.git.git("hash-object", "-t", "tree", "/dev/null").strip()


def comparison(repo: "RepoState", base: str, head: str, base_sha: str, head_sha: str,
               page_commits: list[str] | None = None) -> dict:
    """`GET /compare/{base}...{head}`: commits and files from the merge base to head (three-dot, as on GitHub)."""
    a, w = api(repo), web(repo)
    merge_base = repo.git.merge_base(base_sha, head_sha) or base_sha
    ahead, behind = repo.git.count(head_sha, base_sha), repo.git.count(base_sha, head_sha)
    status = ("identical" if ahead == behind == 0 else "ahead" if behind == 0
              else "behind" if ahead == 0 else "diverged")
    shas = page_commits if page_commits is not None else list(reversed(repo.git.log(head_sha, exclude=base_sha)))
    spec = f"{base}...{head}"
    return {
        "url": f"{a}/compare/{spec}", "html_url": f"{w}/compare/{spec}",
        "permalink_url": f"{w}/compare/{repo.owner}:{base_sha[:7]}...{repo.owner}:{head_sha[:7]}",
        "diff_url": f"{w}/compare/{spec}.diff", "patch_url": f"{w}/compare/{spec}.patch",
        "base_commit": commit(repo, base_sha), "merge_base_commit": commit(repo, merge_base),
        "status": status, "ahead_by": ahead, "behind_by": behind, "total_commits": ahead,
        "commits": [commit(repo, sha) for sha in shas],
        "files": [diff_entry(repo, c, head_sha) for c in repo.git.diff(merge_base, head_sha)],
    }


def branch(repo: "RepoState", name: str, sha: str) -> dict:
    """`GET /branches/{branch}` (not in the contract subset; shaped like GitHub's branch-with-protection)."""
    protected = repo.protection is not None and name == repo.default_branch
    url = f"{api(repo)}/branches/{name}"
    return {"name": name, "commit": commit(repo, sha), "_links": {"self": url, "html": f"{web(repo)}/tree/{name}"},
            "protected": protected,
            "protection": {"enabled": protected, "required_status_checks": {"enforcement_level": "off", "contexts": [],
                                                                             "checks": []}},
            "protection_url": f"{url}/protection"}


def content(repo: "RepoState", entry: "TreeEntry", ref: str, *, full: bool = False) -> dict:
    """One entry of `GET /contents/{path}` (content-file, -symlink, -submodule or a directory item); full=True adds
    a file's base64 content (60-character lines, as GitHub writes it) or a symlink's target."""
    a, w = api(repo), web(repo)
    kind = {"tree": "dir", "commit": "submodule"}.get(entry.kind, "symlink" if entry.mode == "120000" else "file")
    path = quote(entry.path)
    url = f"{a}/contents/{path}?ref={quote(ref, safe='')}"
    git_url = f"{a}/git/{'blobs' if entry.kind == 'blob' else 'trees'}/{entry.sha}"
    html = f"{w}/{'tree' if kind == 'dir' else 'blob'}/{quote(ref)}/{path}"
    body = {"type": kind, "size": entry.size, "name": posixpath.basename(entry.path), "path": entry.path,
            "sha": entry.sha, "url": url, "git_url": git_url, "html_url": html,
            "download_url": f"{w}/raw/{quote(ref)}/{path}" if kind == "file" else None,
            "_links": {"self": url, "git": git_url, "html": html}}
    if full and kind == "file":
        if entry.size > MAX_INLINE_CONTENT:
            body.update({"content": "", "encoding": "none"})
        else:
            encoded = base64.b64encode(repo.git.blob(entry.sha)).decode()
            body.update({"content": "".join(encoded[i:i + 60] + "\n" for i in range(0, len(encoded), 60)),
                         "encoding": "base64"})
    elif full and kind == "symlink":
        body["target"] = repo.git.blob(entry.sha).decode(errors="replace")
    elif full and kind == "submodule":
        body["submodule_git_url"] = ""  # .gitmodules is not read
    return body
