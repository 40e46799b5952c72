"""The module_refs check: every module a unit uses from outside its own folder is a release, pinned by tag.

A git source must name an existing semantic-version tag with `?ref=` (`bucket/v1.2.0`, or `v1.2.0` in a
repository of one module), a registry source an exact `version`. A local path into another folder, a branch or
commit ref, a missing ref, a tag that does not exist and a version constraint each fail with the file, the line
and the source to write instead. A `.tf` file that is a copy of a released module's file is flagged too: modules
are referenced by tag, never copied. Tags are read with `git ls-remote`, through the same git config that
Terraform's `init` uses (`terraform.git_config`), so a mirror or an offline `insteadOf` map serves both.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import semver

from gitops_pipelines.core.changes.detection import (ModuleRef, is_local_source, module_blocks, module_ref,
                                                     parse_terraform_file, resolve_local_source, terraform_files)
from gitops_pipelines.core.changes.versioning import parse_tag, tag_format
from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.git import git_output, remote_git
from gitops_pipelines.core.security.allowlists import web_host
from gitops_pipelines.core.security.locate import Locator, attr, block

CHECK = "module_refs"
_EXACT = re.compile(r"^=?\s*v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.\-+]+)?$")
_DECLARES = re.compile(r'^\s*(resource|data|module)\s+"', re.MULTILINE)
RemoteRefs = Callable[[str], Mapping[str, str]]  # repository URL -> {ref name: sha}, e.g. refs/tags/bucket/v1.0.0


@dataclass(frozen=True)
class RefFinding:
    """One module reference (or copied file) that breaks the rule; `fix` says what to write instead."""

    file: str  # relative to the repository root
    line: int
    problem: str  # local-path | unpinned | not-a-tag | missing-tag | not-semver | version-range | source | copied
    message: str
    fix: str

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.message}; {self.fix}"


@dataclass(frozen=True)
class PinnedModule:
    block: str
    module: str
    ref: str  # the tag or the registry version
    file: str


@dataclass
class ModuleRefsResult:
    unit: str
    findings: list[RefFinding] = field(default_factory=list)
    pinned: list[PinnedModule] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.passed:
            uses = ", ".join(f"{p.module} {p.ref}" for p in self.pinned)
            return f"{self.unit}: every module is a pinned release" + (f" ({uses})" if uses else " (it uses none)")
        return (f"{self.unit}: {len(self.findings)} module reference(s) to fix: "
                + "; ".join(f.describe() for f in self.findings[:5]))

    def markdown(self) -> str:
        if self.passed:
            rows = [f"| `{p.block}` | `{p.module}` | `{p.ref}` | `{p.file}` |" for p in self.pinned]
            return "\n".join(["| module block | module | release | file |", "|---|---|---|---|", *rows]) \
                if rows else "This unit uses no module from outside its folder."
        return "\n".join(f"- `{f.file}:{f.line}` {f.message}. **Fix:** {f.fix}" for f in self.findings)

    def annotations(self) -> list[dict]:
        return [{"path": f.file, "start_line": f.line, "end_line": f.line, "annotation_level": "failure",
                 "title": f"module_refs: {f.problem}", "message": f"{f.message}; {f.fix}"} for f in self.findings]


def git_remote_refs(git_config: str | None = None) -> RemoteRefs:
    """`git ls-remote` of a repository URL, once per URL, with the git config Terraform gets (no prompts)."""
    cache: dict[str, Mapping[str, str]] = {}

    def refs(url: str) -> Mapping[str, str]:
        if url not in cache:
            proc = remote_git(Path.cwd(), git_config, "ls-remote", "--", url)
            if proc.returncode != 0:
                raise LookupError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "git failed")
            pairs = (line.split("\t", 1) for line in proc.stdout.splitlines() if "\t" in line)
            cache[url] = {name: sha for sha, name in pairs if not name.endswith("^{}")}
        return cache[url]

    return refs


def check_module_refs(config: GitopsConfig, unit: UnitConfig | str, repo_root: str | os.PathLike, *,
                      remote_refs: RemoteRefs, released_files: Mapping[str, str] | None = None) -> ModuleRefsResult:
    """Every module block of the unit (and of the local modules inside its folder), checked against the rule.

    released_files: git blob id -> `module tag:path` of the files of released modules (`released_module_files`)."""
    unit_cfg = config.unit(unit) if isinstance(unit, str) else unit
    root = Path(repo_root).resolve()
    unit_dir = (root / unit_cfg.path).resolve()
    result = ModuleRefsResult(unit=unit_cfg.name)
    queue, seen = [unit_dir], set()
    while queue:
        folder = queue.pop(0)
        if folder in seen:
            continue
        seen.add(folder)
        for file in terraform_files(folder):
            try:
                doc = parse_terraform_file(file)
            except Exception:  # noqa: BLE001 - the syntax stage reports what does not parse, with its line
                continue
            where = Locator(file.read_text(encoding="utf-8"), json=file.name.endswith(".tf.json"))
            rel = file.relative_to(root).as_posix()
            for label, body in module_blocks(doc):
                source = body.get("source")
                if not isinstance(source, str) or not source:
                    continue
                line = where.line(block("module", label), attr("source"))
                if is_local_source(source):
                    target = resolve_local_source(folder, source)
                    if target == unit_dir or target.is_relative_to(unit_dir):
                        queue.append(target)
                    else:
                        result.findings.append(_local_outside(config, root, rel, line, label, source, target,
                                                              remote_refs))
                    continue
                ref = module_ref(label, source, file, body, folder)
                finding = _remote(config, ref, rel, line, remote_refs, result, label)
                if finding is not None:
                    result.findings.append(finding)
    if released_files:  # a module's own earlier releases are not copies of it
        own = f"{PurePosixPath(unit_cfg.path.strip('/'))}/"
        others = {blob: where for blob, where in released_files.items() if not where.split(":", 1)[1].startswith(own)}
        result.findings += _copies(root, unit_dir, others)
    result.findings.sort(key=lambda f: (f.file, f.line))
    return result


def released_module_files(config: GitopsConfig, repo_root: str | os.PathLike) -> dict[str, str]:
    """git blob id -> `tag:path` of every `.tf` file that declares something, in every release of every module."""
    root = Path(repo_root)
    fmt = tag_format(config.releases.tag_format, len(config.units))
    tags = git_output(root, "tag", "--list").splitlines()
    out: dict[str, str] = {}
    for module in config.modules:
        released = [t for t in tags if fmt.versions(module.name, [t])[0]]
        for tag in released:
            listing = git_output(root, "ls-tree", "-r", tag, "--", module.path.strip("/") or ".")
            for row in listing.splitlines():
                meta, _, path = row.partition("\t")
                if path.endswith(".tf") and "/tests/" not in f"/{path}":
                    out.setdefault(meta.split()[2], f"{tag}:{path}")
    return out


# -- the rules -----------------------------------------------------------------------------------------------------
def _remote(config: GitopsConfig, ref: ModuleRef, rel: str, line: int, remote_refs: RemoteRefs,
            result: ModuleRefsResult, label: str) -> RefFinding | None:
    where = f"module {label!r} sources {ref.source!r}"
    if ref.kind == "registry":
        if ref.ref and _EXACT.match(ref.ref.strip()):
            result.pinned.append(PinnedModule(label, ref.name, ref.ref.strip(), rel))
            return None
        problem = "version-range" if ref.ref else "unpinned"
        said = f"with version {ref.ref!r}, a constraint" if ref.ref else "with no version"
        return RefFinding(rel, line, problem, f"{where} {said}",
                          'pin one release with an exact `version = "X.Y.Z"`')
    if ref.kind != "git":
        return RefFinding(rel, line, "source", f"{where}, which is neither a git nor a registry source",
                          "publish the module in a git repository and pin a tag with `?ref=`")
    url = _repository_url(ref.source)
    try:
        refs = remote_refs(url)
    except LookupError as exc:
        return RefFinding(rel, line, "missing-tag", f"{where}, but its tags could not be read from {url}: {exc}",
                          "check the URL, and that the runner can read the repository (terraform.git_config)")
    tags = sorted(name.removeprefix("refs/tags/") for name in refs if name.startswith("refs/tags/"))
    suggestion = _suggest(ref, url, tags)
    if not ref.ref:
        return RefFinding(rel, line, "unpinned", f"{where} without `?ref=`, so every init takes the newest commit",
                          suggestion)
    if ref.ref in tags:
        if semver_tag(ref.ref) is None:
            return RefFinding(rel, line, "not-semver", f"{where}: tag {ref.ref!r} is not a semantic version release",
                              suggestion)
        result.pinned.append(PinnedModule(label, ref.name, ref.ref, rel))
        return None
    if f"refs/heads/{ref.ref}" in refs or re.fullmatch(r"[0-9a-f]{7,40}", ref.ref):
        return RefFinding(rel, line, "not-a-tag",
                          f"{where}: {ref.ref!r} is a branch or a commit, not a release tag, so what it means "
                          "moves or cannot be traced to a release", suggestion)
    return RefFinding(rel, line, "missing-tag", f"{where}: tag {ref.ref!r} does not exist in {url}", suggestion)


def _local_outside(config: GitopsConfig, root: Path, rel: str, line: int, label: str, source: str, target: Path,
                   remote_refs: RemoteRefs) -> RefFinding:
    owner = next((u for u in config.modules if (root / u.path).resolve() == target), None)
    what = f"the {owner.name} module's folder" if owner else "a folder outside this unit"
    message = f"module {label!r} sources {source!r}, {what}, by local path: it changes with every commit to it"
    if owner is None:
        return RefFinding(rel, line, "local-path", message,
                          "move the code into this unit's folder, or make it a module unit and pin its release")
    url = own_repository_url(config)
    fmt = tag_format(config.releases.tag_format, len(config.units))
    try:
        tags = [n.removeprefix("refs/tags/") for n in remote_refs(url)] if url else []
    except LookupError:
        tags = []
    latest = fmt.latest(owner.name, tags)
    tag = fmt.tag(owner.name, latest) if latest else fmt.tag(owner.name, "X.Y.Z")
    base = url or "https://github.com/OWNER/REPO.git"
    note = "" if latest else f" (after {owner.name}'s first release)"
    return RefFinding(rel, line, "local-path", message,
                      f'write `source = "git::{base}//{owner.path.strip("/")}?ref={tag}"`{note}')


def _copies(root: Path, unit_dir: Path, released: Mapping[str, str]) -> list[RefFinding]:
    found = []
    for file in sorted(unit_dir.rglob("*.tf")):
        if ".terraform" in file.parts:
            continue
        data = file.read_bytes()
        if not _DECLARES.search(data.decode("utf-8", "replace")):
            continue
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's object id
        if blob in released:
            tag, _, path = released[blob].partition(":")
            found.append(RefFinding(file.relative_to(root).as_posix(), 1, "copied",
                                    f"this file is a copy of {path} as released in {tag}",
                                    f"delete the copy and use the module: `module \"...\" {{ source = ...?ref={tag} }}`"))
    return found


def _suggest(ref: ModuleRef, url: str, tags: list[str]) -> str:
    releases = [(parsed, tag) for tag in tags if (parsed := semver_tag(tag)) and parsed[0] in (ref.name, "")]
    if not releases:
        return f"release the module, then pin its tag: `?ref=<tag>` (no release of it found in {url})"
    _, tag = max(releases, key=lambda pair: pair[0][1])
    address = ref.source.split("?", 1)[0]
    return f'pin a release: `source = "{address}?ref={tag}"` (the newest is {tag})'


def semver_tag(tag: str) -> tuple[str, semver.Version] | None:
    """(module, version) of `bucket/v1.0.0` or `bucket-v1.0.0`; ("", version) of `v1.0.0`."""
    parsed = parse_tag(tag)
    if parsed:
        return parsed
    try:
        return "", semver.Version.parse(tag.removeprefix("v"))
    except ValueError:
        return None


def _repository_url(source: str) -> str:
    """`git::https://github.com/acme/infra.git//modules/x?ref=..` -> `https://github.com/acme/infra.git`."""
    address = source.split("?", 1)[0].removeprefix("git::")
    scheme, sep, rest = address.partition("://")
    path = rest if sep else scheme
    repo = path.split("//", 1)[0]
    if not sep and repo.startswith(("github.com/", "bitbucket.org/")):
        return f"https://{repo.removesuffix('.git')}.git"
    return f"{scheme}://{repo}" if sep else repo


def own_repository_url(config: GitopsConfig) -> str | None:
    if config.github is None:
        return None
    return f"https://{web_host(config.github)}/{config.github.repository}.git"



__all__ = ["CHECK", "ModuleRefsResult", "PinnedModule", "RefFinding", "check_module_refs", "git_remote_refs",
           "released_module_files"]
