"""After a module release (`releases.bump_consumers: true`): one pull request per unit that uses an older release,
its `?ref=` moved to the new tag, the Release linked and an issue of its own as its work item, so consumers
upgrade through the normal flow (their PR checks, plans, approval) instead of by hand. The branch is pushed with git from the release's checkout; the pull
request is opened through the GitHub API. A unit that already has its bump pull request open is left alone."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_pipelines.core.changes.consumers import ConsumersReport
from gitops_pipelines.core.changes.repositories import RepositoryMain
from gitops_pipelines.core.errors import GitopsError
from gitops_pipelines.core.git import remote_git, run_git

BOT = ("gitops-pipelines", "gitops-pipelines@users.noreply.github.com")


@dataclass(frozen=True)
class ConsumerBump:
    unit: str
    branch: str
    files: tuple[str, ...]
    number: int | None  # the pull request opened (None: one was open already, or nothing to change)
    note: str


def bump_branch(module: str, tag: str, unit: str) -> str:
    return f"gitops/bump-{module}-{tag.rsplit('/', 1)[-1]}-{unit}"


def bumped_source(text: str, module_path: str, tag: str) -> str:
    """`text` with the `?ref=` of every git source of `module_path` set to `tag`."""
    pattern = re.compile(r'(git::[^"\s]*//' + re.escape(module_path.strip("/")) + r'/?\?(?:[^"\s]*&)?ref=)([^"&\s]+)')
    return pattern.sub(lambda m: m.group(1) + tag, text)


@dataclass(frozen=True)
class OtherRepository:
    """Where the bump pull requests of another repository's units go: its clone at main, and its GitHub."""

    main: RepositoryMain
    gateway: Any
    git_config: str | None = None  # terraform.git_config: how git reaches it (insteadOf, credential helper)


def bump_consumers(repo: Path, report: ConsumersReport, tag: str, module_path: str, base_sha: str, *,
                   gateway: Any, base: str = "main", release_url: str | None = None,
                   elsewhere: Mapping[str, OtherRepository] | None = None) -> list[ConsumerBump]:
    """One branch and pull request per unit behind `tag` that pins the module by git tag (a local path needs a
    person: it is not a release yet); a unit of another repository gets its pull request there (`elsewhere`,
    by owner/name)."""
    elsewhere = elsewhere or {}
    open_heads: dict[str | None, set[str]] = {}
    done: list[ConsumerBump] = []
    by_unit: dict[tuple[str | None, str], list[str]] = {}
    for consumer in report.behind:
        if consumer.uses.startswith("local path"):
            continue
        if consumer.repository is not None and consumer.repository not in elsewhere:
            done.append(ConsumerBump(consumer.where, "", (consumer.file,), None,
                                     f"{consumer.repository} is not reachable from this release; bump it by hand"))
            continue
        files = by_unit.setdefault((consumer.repository, consumer.unit), [])
        if consumer.file not in files:
            files.append(consumer.file)
    for (repository, unit), files in by_unit.items():
        other = elsewhere.get(repository) if repository else None
        where = f"{repository}:{unit}" if repository else unit
        target = other.gateway if other else gateway
        if repository not in open_heads:
            open_heads[repository] = {p.head_ref for p in target.open_pulls()}
        branch = bump_branch(report.module, tag, unit)
        if branch in open_heads[repository]:
            done.append(ConsumerBump(where, branch, tuple(files), None, f"#{branch} is open already"))
            continue
        changed = _commit_bump(other.main.root if other else repo, files, module_path, tag,
                               other.main.sha if other else base_sha, branch, f"{unit}: use {report.module} {tag}",
                               push=(lambda cwd, *a: remote_git(cwd, other.git_config, *a)) if other else run_git)
        if not changed:
            done.append(ConsumerBump(where, branch, tuple(files), None, "nothing to change"))
            continue
        title = f"{unit}: use {report.module} {tag}"
        released = f"{report.module} was released as `{tag}`" + (f" ({release_url})" if release_url else "")
        # every change starts from a work item: the bump's own, in the repository the unit is in
        issue = target.open_issue(title, f"{released}. `{unit}` still uses an older release; its bump pull request "
                                         "closes this issue.", [])
        body = (f"Fixes #{issue}\n\n{released}. This moves `{unit}` to it:\n\n"
                + "\n".join(f"- `{f}`" for f in changed)
                + "\n\nIts PR checks plan the change; it is approved and merged like any other.")
        number = target.create_pull(branch, other.main.main_branch if other else base, title, body)
        done.append(ConsumerBump(where, branch, tuple(changed), number,
                                 f"opened {repository + '#' if repository else '#'}{number}"))
    return done


def _commit_bump(repo: Path, files: list[str], module_path: str, tag: str, base_sha: str, branch: str,
                 message: str, push: Callable[..., Any] = run_git) -> list[str]:
    """Commit the bumped files on a worktree of base_sha and push it as `branch`; the files that changed."""
    with tempfile.TemporaryDirectory(prefix="gitops-bump-") as tmp:
        tree = Path(tmp) / "tree"
        _git(repo, "worktree", "add", "-q", "--detach", str(tree), base_sha)
        try:
            changed = []
            for rel in files:
                path = tree / rel
                text = path.read_text(encoding="utf-8")
                new = bumped_source(text, module_path, tag)
                if new != text:
                    path.write_text(new, encoding="utf-8")
                    changed.append(rel)
            if changed:
                ident = ["-c", f"user.name={BOT[0]}", "-c", f"user.email={BOT[1]}"]
                _git(tree, *ident, "commit", "-q", "-m", message, "--", *changed)
                _git(tree, "push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch}", runner=push)
            return changed
        finally:
            run_git(repo, "worktree", "remove", "--force", str(tree))


def _git(cwd: Path, *args: str, runner: Callable[..., Any] = run_git) -> None:
    proc = runner(cwd, *args)
    if proc.returncode != 0:
        raise GitopsError(f"bumping the module's consumers: `git {' '.join(a for a in args if not a.startswith('user.'))}`"
                          f" failed: {proc.stderr.strip()[-500:]}; the release's checkout must be able to push "
                          "branches to origin (a git credential for the runner)")
