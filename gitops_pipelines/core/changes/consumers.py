"""Which units use a module, at which release, and which are behind its newest one (`modules consumers`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from gitops_pipelines.core.changes.detection import ModuleRef, module_refs
from gitops_pipelines.core.changes.pinning import git_remote_refs, own_repository_url, semver_tag
from gitops_pipelines.core.changes.repositories import RepositoryMain
from gitops_pipelines.core.security.allowlists import same_repository
from gitops_pipelines.core.changes.versioning import tag_format
from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.git import git_output
from gitops_pipelines.core.errors import UsageError


@dataclass(frozen=True)
class Consumer:
    unit: str
    block: str  # module "<block>" { ... }
    file: str  # relative to the repository root
    uses: str  # the tag pinned, `local path ...`, or `unpinned`
    version: str | None  # the semantic version pinned, if any
    behind: bool
    repository: str | None = None  # owner/name where the unit is, when that is another repository

    @property
    def where(self) -> str:
        """The unit, with its repository when that is another one: `acme/projects:storage`."""
        return f"{self.repository}:{self.unit}" if self.repository else self.unit


@dataclass
class ConsumersReport:
    module: str
    latest: str | None  # the newest release tag of the module
    consumers: list[Consumer] = field(default_factory=list)

    @property
    def behind(self) -> list[Consumer]:
        return [c for c in self.consumers if c.behind]

    def to_json(self) -> dict:
        return {"module": self.module, "latest": self.latest,
                "consumers": [{**asdict(c), "where": c.where} for c in self.consumers]}

    def text(self) -> str:
        if not self.consumers:
            return f"{self.module}: no unit uses it (newest release: {self.latest or 'none'})"
        lines = [f"{self.module}: newest release {self.latest or 'none'}; {len(self.consumers)} use(s), "
                 f"{len(self.behind)} behind"]
        lines += [f"  {c.where:<20} {c.uses:<24} {'BEHIND' if c.behind else 'current':<8} {c.file} ({c.block})"
                  for c in self.consumers]
        return "\n".join(lines)


def module_consumers(config: GitopsConfig, module: str, tags: list[str],
                     repo_root: str | os.PathLike | None = None, *,
                     elsewhere: Sequence[RepositoryMain] = ()) -> ConsumersReport:
    """Every module block of every unit that uses `module` (by release tag, or by local path into its folder), in
    this repository and in `elsewhere` (other repositories at their main, by a git source of this repository).
    tags: the repository's tags (the module's releases are read from them)."""
    target = config.unit(module)
    if target.is_project:
        raise UsageError(f"unit {module!r} is a {target.kind}, not a module; name one of: "
                         f"{', '.join(u.name for u in config.modules) or 'no module is declared'}")
    root = Path(repo_root or config.root).resolve()
    fmt = tag_format(config.releases.tag_format, len(config.units))
    newest = fmt.latest(module, tags)
    report = ConsumersReport(module=module, latest=fmt.tag(module, newest) if newest else None)
    module_dir = (root / target.path).resolve()
    here = own_repository_url(config)
    places = [(None, root, [(u.name, u.path) for u in config.units if u.name != module])]
    places += [(other.name, other.root.resolve(), [(u.name, u.path) for u in other.units]) for other in elsewhere]
    for repository, base, units in places:
        for name, path in units:
            for ref in module_refs(base / path):
                if (ref.kind != "git" and repository is not None) or (
                        ref.kind == "git" and here is not None and not same_repository(ref.source, here)):
                    continue  # not a release of this repository (another one's module of the same name, say)
                uses = _uses(ref, module, target.path, module_dir)
                if uses is None:
                    continue
                parsed = semver_tag(ref.ref) if ref.kind == "git" and ref.ref else None
                version = str(parsed[1]) if parsed else None
                behind = newest is not None and (parsed is None or parsed[1] < newest)
                report.consumers.append(Consumer(name, ref.block, Path(ref.file).resolve().relative_to(base)
                                                 .as_posix(), uses, version, behind, repository))
    return report


def consumers_markdown(report: ConsumersReport) -> str:
    """The consumers as a table, for a release's materialization."""
    if not report.consumers:
        return f"No unit uses `{report.module}` yet."
    rows = [f"| `{c.where}` | `{c.block}` | `{c.uses}` | {'behind' if c.behind else 'current'} |"
            for c in report.consumers]
    return "\n".join(["| unit | module block | uses | |", "|---|---|---|---|", *rows])


def repository_tags(config: GitopsConfig) -> list[str]:
    """The tags of the checkout gitops.yaml is in, and of the repository on GitHub when gitops.yaml names it."""
    tags = set(git_output(config.root, "tag", "--list").split())
    url = own_repository_url(config)
    if url:
        try:
            remote = git_remote_refs(config.terraform.git_config)(url)
            tags |= {name.removeprefix("refs/tags/") for name in remote if name.startswith("refs/tags/")}
        except LookupError:
            pass  # the local tags are what there is to go on
    return sorted(tags)


def _uses(ref: ModuleRef, module: str, path: str, module_dir: Path) -> str | None:
    if ref.kind == "local":
        return "local path (unpinned)" if Path(ref.path) == module_dir else None
    if ref.kind != "git" or (ref.name != module
                             and PurePosixPath(ref.path.strip("/")) != PurePosixPath(path.strip("/"))):
        return None  # PurePosixPath: a module at the repository's root is "" in a source and "." in gitops.yaml
    return ref.ref or "unpinned"
