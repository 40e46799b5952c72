"""The other repositories of a mixed layout (gitops.yaml `repositories:`): where git reads them, and each one's
main as a local clone with the units its own gitops.yaml declares there.

Each repository is a code location of its own and is judged by its own gitops.yaml; another repository's file is
read here only to find where its units are, so that a module repository can tell which projects use its releases
and open their bump pull requests. Clones live under `.gitops/repositories/` and are fetched again on each read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from gitops_pipelines.core.checkout import exclusive
from gitops_pipelines.core.config import DEFAULT_CONFIG, GitopsConfig, RepositorySettings
from gitops_pipelines.core.errors import GitopsError
from gitops_pipelines.core.git import head_sha, remote_git
from gitops_pipelines.core.security.allowlists import web_host

CLONES = Path(".gitops") / "repositories"


class RepositoryUnreadable(GitopsError):
    """Another repository of `repositories:` cannot be read: not reachable, no main, or no gitops.yaml there."""


@dataclass(frozen=True)
class RepositoryUnit:
    name: str
    path: str


@dataclass(frozen=True)
class RepositoryMain:
    """Another repository at the head of its main: a local clone and the units its gitops.yaml lists."""

    name: str  # owner/name
    main_branch: str
    root: Path
    sha: str
    units: tuple[RepositoryUnit, ...]


def repository_url(config: GitopsConfig, repo: RepositorySettings) -> str:
    """`repositories[].url`, else the repository on the host of `github:` (as module sources name it)."""
    return repo.url or f"https://{web_host(config.github)}/{repo.name}.git"


def read_main(config: GitopsConfig, repo: RepositorySettings, home: Path | None = None) -> RepositoryMain:
    """A clone of `repo` at the head of its main branch (fetched now), under `<home>/.gitops/repositories`."""
    url = repository_url(config, repo)
    dest = Path(home or config.root) / CLONES / repo.name.replace("/", "__")
    git_config = config.terraform.git_config
    where = f"repository {repo.name} ({url}, from gitops.yaml repositories:)"
    with exclusive(dest.with_name(f"{dest.name}.lock"), 300.0, f"the clone of {repo.name}"):
        if not (dest / ".git").is_dir():
            dest.parent.mkdir(parents=True, exist_ok=True)
            _must(remote_git(dest.parent, git_config, "clone", "-q", "--", url, dest.name), where, "cloning it")
        _must(remote_git(dest, git_config, "fetch", "-q", "origin", f"+refs/heads/{repo.main_branch}:refs/remotes/"
                         f"origin/{repo.main_branch}", "+refs/tags/*:refs/tags/*"), where,
              f"fetching its {repo.main_branch} branch")
        _must(remote_git(dest, None, "checkout", "-q", "-f", "--detach", f"origin/{repo.main_branch}"), where,
              f"checking out {repo.main_branch}")
        sha = head_sha(dest) or ""
    return RepositoryMain(repo.name, repo.main_branch, dest, sha, _units(dest, where))


def _units(root: Path, where: str) -> tuple[RepositoryUnit, ...]:
    path = root / DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise RepositoryUnreadable(f"{where} has no {DEFAULT_CONFIG} on its main branch, so its units are unknown; "
                                   "add one there, or remove it from `repositories:`") from None
    except yaml.YAMLError as exc:
        raise RepositoryUnreadable(f"{where}: its {DEFAULT_CONFIG} is not YAML ({exc}); fix it on its main") from None
    units = raw.get("units") if isinstance(raw, dict) else None
    if not isinstance(units, list):
        raise RepositoryUnreadable(f"{where}: its {DEFAULT_CONFIG} lists no `units:`; fix it on its main")
    return tuple(RepositoryUnit(str(u["name"]), str(u["path"]))
                 for u in units if isinstance(u, dict) and "name" in u and "path" in u)


def _must(proc, where: str, doing: str) -> None:
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"git exited {proc.returncode}"
        raise RepositoryUnreadable(f"{where}: {doing} failed: {why}. Check its name and url, and that the runner "
                                   "can read it (terraform.git_config: a credential helper or url.insteadOf)")


def other_mains(config: GitopsConfig, home: Path | None = None) -> list[RepositoryMain]:
    """Every repository of `repositories:` at its main, in the order listed."""
    return [read_main(config, repo, home) for repo in config.repositories]
