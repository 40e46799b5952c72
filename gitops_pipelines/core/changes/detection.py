"""Change detection: which units a pull request touches, and how units use modules (local path or git tag)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

import hcl2
import semver

from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.changes.versioning import parse_tag

# Sub-folders of a module that belong to the module alone: changing them never affects its consumers.
MODULE_PRIVATE_DIRS = frozenset({"tests", "examples"})

SourceKind = Literal["local", "git", "registry", "other"]


@dataclass(frozen=True)
class ModuleRef:
    """One `module` block of a unit and where its code comes from."""

    name: str  # the module: from a `<module>-v<semver>` ref, else the last folder of `path`
    source: str  # as written in the block
    path: str  # git/registry: the folder inside the repository (`modules/bucket`); local: the resolved folder
    ref: str | None  # git `?ref=` (a tag, branch or SHA); registry: the `version` constraint
    kind: SourceKind = "other"
    block: str = ""  # the block label: `module "<block>" { ... }`
    file: str = ""  # the .tf file the block is in

    @property
    def version(self) -> semver.Version | None:
        """The module version a `<module>-v<semver>` ref pins, if it is one."""
        parsed = parse_tag(self.ref) if self.ref and self.kind == "git" else None
        return parsed[1] if parsed else None


@dataclass
class _Folder:
    """What one Terraform folder declares: its module calls and the .tf files that could not be parsed."""

    calls: list[tuple[str, str, Path, dict[str, Any]]] = field(default_factory=list)  # (label, source, file, body)
    broken: list[Path] = field(default_factory=list)

    def local_sources(self, folder: Path) -> list[Path]:
        return [resolve_local_source(folder, source) for _, source, _, _ in self.calls if is_local_source(source)]


# -- public API ------------------------------------------------------------------------------------------------
def affected_units(config: GitopsConfig, changed_files: list[str], *, repo_root: str | os.PathLike | None = None) -> list[UnitConfig]:
    """The units a change touches, in config order.

    `changed_files` are relative to `repo_root` (default: the folder of gitops.yaml) or absolute. A unit is
    affected by a file in its own folder, by a file in a module it uses by local path (transitively, except the
    module's tests/ and examples/), by a .tf file of its own that cannot be parsed, or by a change to gitops.yaml.
    """
    base = Path(repo_root).resolve() if repo_root is not None else config.root
    changed = [(base / f).resolve() for f in changed_files if f]
    if (config.root / Path(config.source).name).resolve() in changed:
        return list(config.units)

    dirs = {unit.name: config.unit_dir(unit) for unit in config.units}
    scanner = _Scanner()
    affected: set[str] = set()
    for path in changed:
        affected |= _owners(path, dirs)
    for unit in config.units:
        used = scanner.closure(dirs[unit.name])
        if any(_touches_module(path, folder) for folder in used for path in changed):
            affected.add(unit.name)
        for folder in [dirs[unit.name], *used]:
            for broken in scanner.folder(folder).broken:
                # The syntax stage of the unit that holds the file reports it; an undeclared folder has no stage
                # of its own, so its consumers run instead.
                affected |= _owners(broken, dirs) or {unit.name}
    return [unit for unit in config.units if unit.name in affected]


def module_dependencies(config: GitopsConfig) -> dict[str, set[str]]:
    """Direct edges of the unit graph: unit name -> the declared units it calls by local path.

    Folders that are not declared units are looked through, so `project -> ./shared -> modules/bucket` gives
    `project -> bucket`.
    """
    dirs = {unit.name: config.unit_dir(unit) for unit in config.units}
    by_dir = {path: name for name, path in reversed(list(dirs.items()))}
    scanner = _Scanner()
    graph: dict[str, set[str]] = {}
    for name, start in dirs.items():
        deps: set[str] = set()
        seen = {start}
        stack = scanner.folder(start).local_sources(start)
        while stack:
            folder = stack.pop()
            if folder in seen:
                continue
            seen.add(folder)
            if folder in by_dir:
                if by_dir[folder] != name:
                    deps.add(by_dir[folder])
                continue
            stack.extend(scanner.folder(folder).local_sources(folder))
        graph[name] = deps
    return graph


def module_refs(unit_dir: str | os.PathLike) -> list[ModuleRef]:
    """Every `module` block in the top-level .tf files of a folder, in file order; unparsable files are skipped."""
    folder = Path(unit_dir).resolve()
    return [module_ref(label, source, file, body, folder) for label, source, file, body in _read_folder(folder).calls]


# -- reading Terraform -----------------------------------------------------------------------------------------
class _Scanner:
    """Reads each folder once per call of the public functions."""

    def __init__(self) -> None:
        self._folders: dict[Path, _Folder] = {}
        self._closures: dict[Path, set[Path]] = {}

    def folder(self, path: Path) -> _Folder:
        if path not in self._folders:
            self._folders[path] = _read_folder(path)
        return self._folders[path]

    def closure(self, start: Path) -> set[Path]:
        """Every folder `start` uses by local path, directly or through other folders (cycles are fine)."""
        if start not in self._closures:
            seen: set[Path] = set()
            stack = self.folder(start).local_sources(start)
            while stack:
                folder = stack.pop()
                if folder in seen or folder == start:
                    continue
                seen.add(folder)
                stack.extend(self.folder(folder).local_sources(folder))
            self._closures[start] = seen
        return self._closures[start]


def terraform_files(folder: Path) -> list[Path]:
    """The `.tf` and `.tf.json` files directly in a folder, sorted: what Terraform reads as one module."""
    if not folder.is_dir():
        return []
    return [f for f in sorted(folder.iterdir()) if f.is_file() and (f.name.endswith(".tf.json") or f.suffix == ".tf")]


def parse_terraform_file(file: Path) -> dict[str, Any]:
    """One `.tf` (python-hcl2's shape) or `.tf.json` file as a dict; raises whatever the parser raises."""
    text = file.read_text(encoding="utf-8")
    doc = json.loads(text) if file.name.endswith(".tf.json") else hcl2.loads(text)
    return doc if isinstance(doc, dict) else {}


def _read_folder(folder: Path) -> _Folder:
    out = _Folder()
    for file in terraform_files(folder):
        try:
            blocks = list(module_blocks(parse_terraform_file(file)))
        except Exception:  # noqa: BLE001 - any parser failure means "let the syntax stage look at it"
            out.broken.append(file)
            continue
        for label, body in blocks:
            source = body.get("source")
            if isinstance(source, str) and source:
                out.calls.append((label, source, file, body))
    return out


def module_blocks(doc: Any):
    """(label, body) of each `module` block; python-hcl2 7.x and 8.x (quoted strings) and .tf.json shapes."""
    modules = doc.get("module", []) if isinstance(doc, dict) else []
    for entry in modules if isinstance(modules, list) else [modules]:
        if not isinstance(entry, dict):
            continue
        for label, body in entry.items():
            for one in body if isinstance(body, list) else [body]:
                if isinstance(one, dict):
                    yield unquote(label), {k: unquote(v) for k, v in one.items() if not k.startswith("__")}


def unquote(value: Any) -> Any:
    """python-hcl2 8 keeps string literals quoted (`"\\"x\\""`) and may wrap expressions in `${...}`."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        text = text[2:-1].strip()
    return text


# -- module sources (shared with the static check in core/security) ----------------------------------------------
def is_local_source(source: str) -> bool:
    """A module source Terraform reads from the same checkout (`./x`, `../x`) rather than downloads."""
    return source.startswith(("./", "../", ".\\", "..\\")) or source in (".", "..")


def resolve_local_source(folder: Path, source: str) -> Path:
    """The folder a local module source names, seen from the folder of the `module` block."""
    return (folder / source.replace("\\", "/")).resolve()


def module_ref(label: str, source: str, file: Path, body: dict[str, Any], folder: Path) -> ModuleRef:
    """One `module` block (as `module_blocks` yields it) classified: local, git, registry or other."""
    common = {"source": source, "block": label, "file": str(file)}
    if is_local_source(source):
        path = resolve_local_source(folder, source)
        return ModuleRef(name=path.name, path=str(path), ref=None, kind="local", **common)
    address, _, query = source.partition("?")
    ref = (parse_qs(query).get("ref") or [None])[0]
    kind: SourceKind
    if address.startswith(("git::", "git@", "github.com/", "bitbucket.org/")) or (
        "::" not in address and re.search(r"\.git(/|$)", address)
    ):
        kind = "git"
    elif "::" not in address and "://" not in address and len(address.split("//")[0].split("/")) in (3, 4):
        kind = "registry"  # <namespace>/<name>/<provider>, optionally behind a registry host
        version = body.get("version")
        ref = ref or (str(version) if version is not None else None)
    else:
        kind = "other"
    scheme, sep, rest = address.partition("://")
    without_scheme = rest if sep else scheme
    repo_part, _, subdir = without_scheme.partition("//")
    subdir = subdir.strip("/")
    tagged = parse_tag(ref) if ref and kind == "git" else None
    if tagged:
        name = tagged[0]
    elif kind == "registry" and not subdir:
        name = repo_part.split("/")[-2]
    elif subdir:
        name = subdir.rsplit("/", 1)[-1]
    else:
        name = repo_part.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
    return ModuleRef(name=name, path=subdir, ref=ref, kind=kind, **common)


# -- paths -------------------------------------------------------------------------------------------------------
def _owners(path: Path, dirs: dict[str, Path]) -> set[str]:
    """The unit(s) with the deepest folder that holds `path`: a nested unit owns its files, not its parent."""
    holding = [(len(d.parts), name) for name, d in dirs.items() if path.is_relative_to(d) and path != d]
    if not holding:
        return set()
    deepest = max(depth for depth, _ in holding)
    return {name for depth, name in holding if depth == deepest}


def _touches_module(path: Path, folder: Path) -> bool:
    if not path.is_relative_to(folder) or path == folder:
        return False
    return path.relative_to(folder).parts[0] not in MODULE_PRIVATE_DIRS
