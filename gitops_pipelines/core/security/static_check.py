"""The static check: what a unit's code would run on the runner, read before Terraform ever runs it.

`terraform init` and `plan` at PR time run the pull request's code with an environment's credentials: a
`data "external"` source runs a program while planning, a provider is a program that `init` downloads and `plan`
starts, and a provisioner runs a command (or copies files) at apply. So this check runs before any PR-time
init/plan and again before every apply, over the unit's `.tf` and `.tf.json` files, its own test files
(`*.tftest.hcl` in the unit and its `tests/`), and, recursively, every local module they source (parsed as change
detection parses them). It refuses, with file and line:

- `external-data`: a `data "external"` source, anywhere (also inside a `check` block);
- `provisioner`: a `local-exec`, `remote-exec` or `file` provisioner, unless `security.allow_provisioners` grants
  that type to the unit (the grant covers the local modules it sources, which run with its credentials);
- `provider`: a provider that is not allowed (see `allowlists`), whether named by `required_providers`, a
  `provider` block, or implied by a resource or data source type (`google_x` -> `hashicorp/google`);
- `module-source`: a local path that leaves the repository, or a remote source that is not allowed;
- `unreadable`: a file the check cannot parse, so cannot vouch for (the syntax stage says what Terraform thinks);
- `plugin-dir`: a `terraform.d/` folder in the unit, which Terraform searches for provider binaries.

The settings are rules: the caller reads them from gitops.yaml on main, never from the change under test.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_pipelines.core.changes.detection import (
    is_local_source, module_blocks, module_ref, parse_terraform_file, resolve_local_source, terraform_files, unquote,
)
from gitops_pipelines.core.config import GitopsConfig, UnitConfig
from gitops_pipelines.core.errors import CodeRefused
from gitops_pipelines.core.security.allowlists import (
    BUILTIN_PROVIDER, lock_files_in, module_source_allowed, provider_address, provider_allowed, provider_allowlist,
    providers_in_lock_files,
)
from gitops_pipelines.core.security.locate import Locator, Step, attr, block

RULES = {
    "external-data": "a data \"external\" source runs a program while Terraform plans",
    "provisioner": "a provisioner runs a command or copies files on the runner at apply",
    "provider": "a provider that is not on the allowlist",
    "module-source": "a module source that is not allowed",
    "unreadable": "a file the static check cannot read",
    "plugin-dir": "a terraform.d/ folder that Terraform searches for provider binaries",
}
_RESOURCE_KINDS = ("resource", "data", "ephemeral")
_TEST_SUFFIX = ".tftest.hcl"
_WHAT_TO_DO = ("Remove what is refused, or ask the rules owners to allow it in gitops.yaml on main "
               "(security: providers, module_sources, allow_provisioners).")


@dataclass(frozen=True)
class StaticFinding:
    """One refusal: which rule, where (a path relative to the checkout root, and a line from 1), and why."""

    rule: str
    file: str
    line: int
    message: str

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def static_check(config: GitopsConfig, unit: UnitConfig | str, checkout_root: str | os.PathLike, *,
                 allowed_providers: Iterable[str]) -> list[StaticFinding]:
    """Every finding in the unit's code in the checkout at checkout_root, sorted by file and line.
    allowed_providers: the default allowlist (the providers in the base branch's lock files, see
    `providers_in_lock_files`), used when gitops.yaml sets no `security.providers`."""
    unit_cfg = config.unit(unit) if isinstance(unit, str) else unit
    root = Path(checkout_root).resolve()
    check = _Check(config, unit_cfg, root, provider_allowlist(config, allowed_providers))
    check.run((root / unit_cfg.path).resolve())
    return sorted(set(check.findings), key=lambda f: (f.file, f.line, f.rule, f.message))


def enforce_static_check(config: GitopsConfig, unit: UnitConfig | str, checkout_root: str | os.PathLike, *,
                         allowed_providers: Iterable[str]) -> list[StaticFinding]:
    """static_check, raising CodeRefused when it finds anything; returns the (empty) findings otherwise."""
    unit_cfg = config.unit(unit) if isinstance(unit, str) else unit
    findings = static_check(config, unit_cfg, checkout_root, allowed_providers=allowed_providers)
    if findings:
        raise CodeRefused(refusal_text(unit_cfg.name, findings), unit=unit_cfg.name, findings=tuple(findings))
    return findings


def refusal_text(unit: str, findings: list[StaticFinding]) -> str:
    """What CodeRefused says: each finding as `path:line: message`, then what to do."""
    lines = [f"unit {unit}: the static check refused its code before Terraform ran it "
             f"({len(findings)} finding{'s' if len(findings) != 1 else ''}):"]
    lines += [f"  {f.describe()}" for f in findings]
    lines.append(_WHAT_TO_DO)
    return "\n".join(lines)


def check_annotations(findings: Iterable[StaticFinding], *, path_prefix: str = "") -> list[dict[str, Any]]:
    """GitHub check-run annotations, one per finding; path_prefix: the checkout root's folder inside the
    repository, when gitops.yaml is not at the top. GitHub takes at most 50 per request."""
    prefix = path_prefix.strip("/")
    return [{
        "path": f"{prefix}/{f.file}" if prefix else f.file,
        "start_line": f.line,
        "end_line": f.line,
        "annotation_level": "failure",
        "title": f"static check: {f.rule}",
        "message": f.message,
    } for f in findings]


# -- the walk ------------------------------------------------------------------------------------------------
@dataclass
class _File:
    path: Path
    doc: dict[str, Any]
    where: Locator
    is_test: bool = False


class _Check:
    def __init__(self, config: GitopsConfig, unit: UnitConfig, root: Path, providers: set[str]):
        self.config = config
        self.unit = unit
        self.root = root
        self.providers = providers
        self.provisioners = set(config.security.allow_provisioners.get(unit.name, ()))
        self.findings: list[StaticFinding] = []
        self._queue: list[Path] = []

    def run(self, unit_dir: Path) -> None:
        plugins = unit_dir / "terraform.d"
        if plugins.exists():
            inside = sorted(p for p in plugins.rglob("*") if p.is_file())
            self._add("plugin-dir", inside[0] if inside else plugins, 1,
                      f"{self._rel(plugins)}/ is searched by Terraform for provider binaries, so it could run "
                      "any program as a provider; remove it (providers come from the registry or the mirror)")
        seen: set[Path] = set()
        self._queue = [unit_dir]
        while self._queue:
            folder = self._queue.pop(0)
            if folder in seen:
                continue
            seen.add(folder)
            tests = _test_files(folder) if folder == unit_dir else []
            self._folder(folder, terraform_files(folder), tests)

    def _folder(self, folder: Path, files: list[Path], tests: list[Path]) -> None:
        parsed = [f for f in (self._parse(p, is_test=p in tests) for p in [*files, *tests]) if f is not None]
        # a module's local provider names, from its own required_providers (its test files use the same)
        names: dict[str, str] = {}
        for file in parsed:
            if not file.is_test:
                for name, source in _required_providers(file.doc):
                    names[name] = provider_address(source) if source else provider_address(name)
        reported: set[str] = set()  # one provider finding per module and provider, where it is first named
        for file in parsed:
            for address, steps in self._providers_used(file, names):
                if address in reported or provider_allowed(address, self.providers):
                    continue
                reported.add(address)
                self._add("provider", file.path, file.where.line(*steps),
                          f"provider {address} is not allowed: `terraform init` would download it and `plan` would "
                          f"run it with the environment's credentials; use an allowed provider ({self._allowed()}), "
                          "or ask the rules owners to add it to security.providers in gitops.yaml on main")
            self._programs(file)
            self._modules(folder, file)

    def _parse(self, path: Path, *, is_test: bool) -> _File | None:
        try:
            text = path.read_text(encoding="utf-8")
            doc = parse_terraform_file(path)
        except Exception as exc:  # noqa: BLE001 - python-hcl2 raises lark's errors, json its own, reading OSError
            line = getattr(exc, "lineno", None) or getattr(exc, "line", None)
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            self._add("unreadable", path, line if isinstance(line, int) and line > 0 else 1,
                      f"the static check cannot read this file ({first}), so it cannot vouch for it; fix its "
                      "syntax (the syntax stage shows what Terraform says)")
            return None
        return _File(path, doc, Locator(text, json=path.name.endswith(".tf.json")), is_test)

    def _providers_used(self, file: _File, names: dict[str, str]) -> Iterator[tuple[str, tuple[Step, ...]]]:
        """(provider address, where it is named) for each mention, in the order a reader meets them."""
        for name, source in _required_providers(file.doc):
            yield (provider_address(source) if source else provider_address(name),
                   (block("terraform"), block("required_providers"), attr(name)))
        for keyword in ("provider", "mock_provider"):
            for (name,), _ in _labelled(file.doc.get(keyword), 1):
                yield _address(name, names), (block(keyword, name),)
        for steps, _, type_, _, body in _resources(file.doc):
            explicit = unquote(body.get("provider"))
            local = explicit.split(".", 1)[0] if isinstance(explicit, str) and explicit else type_.split("_", 1)[0]
            yield _address(local, names), steps

    def _programs(self, file: _File) -> None:
        """data "external" and provisioners."""
        for steps, kind, type_, name, body in _resources(file.doc):
            if kind == "data" and type_ == "external":
                self._add("external-data", file.path, file.where.line(*steps),
                          f'data "external" "{name}" runs a program on the runner while Terraform plans, with the '
                          "environment's credentials; remove it (compute the value in Terraform, or before the "
                          "pipeline)")
            if kind != "resource":
                continue
            count: dict[str, int] = {}
            for (ptype,), _ in _labelled(body.get("provisioner"), 1):
                nth = count.get(ptype, 0)
                count[ptype] = nth + 1
                if ptype in self.provisioners:
                    continue
                self._add("provisioner", file.path, file.where.line(*steps, block("provisioner", ptype), nth=nth),
                          f'resource "{type_}" "{name}" has a "{ptype}" provisioner, which runs on the runner with '
                          f"the environment's credentials at apply; remove it, or ask the rules owners to allow "
                          f"{ptype} for unit {self.unit.name!r} (security.allow_provisioners in gitops.yaml on main)")

    def _modules(self, folder: Path, file: _File) -> None:
        """Follow local module sources (they are checked as this unit's code); refuse remote ones not allowed."""
        calls = [(label, body.get("source"), (block("module", label), attr("source")), body)
                 for label, body in module_blocks(file.doc)]
        if file.is_test:  # run "x" { module { source = "./tests/setup" } }; relative to the unit's folder
            calls += [(f"run.{run}", unquote(m.get("source")), (block("run", run), block("module"), attr("source")),
                       {k: unquote(v) for k, v in m.items()})
                      for (run,), body in _labelled(file.doc.get("run"), 1) for m in _bodies(body.get("module"))]
        for label, source, steps, body in calls:
            if not isinstance(source, str) or not source:
                continue
            if is_local_source(source):
                target = resolve_local_source(folder, source)
                if target.is_relative_to(self.root):
                    self._queue.append(target)
                else:
                    self._add("module-source", file.path, file.where.line(*steps),
                              f"module {label!r} sources {source!r}, a folder outside the repository; keep "
                              "modules inside the repository")
                continue
            ref = module_ref(label, source, file.path, body, folder)
            if not module_source_allowed(ref, self.config):
                self._add("module-source", file.path, file.where.line(*steps),
                          f"module {label!r} downloads {source!r}, whose code `terraform init` would fetch and "
                          "Terraform run unchecked; use a local module or a release tag of a module unit of this "
                          "repository, or ask the rules owners to allow it in security.module_sources in "
                          "gitops.yaml on main")

    def _allowed(self) -> str:
        shown = sorted(self.providers - {BUILTIN_PROVIDER})
        listed = ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")
        return f"allowed: {listed}" if shown else "none is allowed yet"

    def _add(self, rule: str, path: Path, line: int, message: str) -> None:
        self.findings.append(StaticFinding(rule, self._rel(path), line, message))

    def _rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


# -- reading the documents (python-hcl2 8's shape and .tf.json's) -------------------------------------------------
def _bodies(value: Any) -> Iterator[dict[str, Any]]:
    """A block body, or a list of them, as dicts."""
    for one in value if isinstance(value, list) else [value]:
        if isinstance(one, dict):
            yield one


def _labelled(value: Any, depth: int, labels: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """(labels, body) of each block under a keyword: `data` has 2 labels, `provider` 1, `terraform` none."""
    for node in _bodies(value):
        if depth == 0:
            yield labels, node
            continue
        for key, sub in node.items():
            if not key.startswith("__"):
                yield from _labelled(sub, depth - 1, (*labels, str(unquote(key))))


def _required_providers(doc: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(local name, source or None) of each required_providers entry; no source means `hashicorp/<name>`."""
    for _, terraform in _labelled(doc.get("terraform"), 0):
        for _, required in _labelled(terraform.get("required_providers"), 0):
            for name, spec in required.items():
                if name.startswith("__"):
                    continue
                source = unquote(spec.get("source")) if isinstance(spec, dict) else None
                yield str(unquote(name)), source if isinstance(source, str) and source else None


def _resources(doc: dict[str, Any]) -> Iterator[tuple[tuple[Step, ...], str, str, str, dict[str, Any]]]:
    """(where, kind, type, name, body) of each resource, data source and ephemeral resource, also of the data
    sources inside `check` blocks."""
    for kind in _RESOURCE_KINDS:
        for (type_, name), body in _labelled(doc.get(kind), 2):
            yield (block(kind, type_, name),), kind, type_, name, body
    for (check,), body in _labelled(doc.get("check"), 1):
        for (type_, name), inner in _labelled(body.get("data"), 2):
            yield (block("check", check), block("data", type_, name)), "data", type_, name, inner


def _address(local_name: str, names: dict[str, str]) -> str:
    if local_name == "terraform":
        return BUILTIN_PROVIDER
    return names.get(local_name) or provider_address(local_name)


def _test_files(unit_dir: Path) -> list[Path]:
    """The test files `terraform test` reads: in the unit's folder and its tests/ folder."""
    return [f for folder in (unit_dir, unit_dir / "tests") if folder.is_dir()
            for f in sorted(folder.iterdir()) if f.is_file() and f.name.endswith(_TEST_SUFFIX)]


def providers_on_main(config: GitopsConfig, root: str | os.PathLike) -> set[str]:
    """The providers main already uses: those in its committed lock files and those its units require. The default
    allowlist, so a repository that commits no lock file still runs the providers main was reviewed with."""
    root = Path(root).resolve()
    found = providers_in_lock_files(lock_files_in(root))
    for unit in config.units:
        for file in terraform_files((root / unit.path).resolve()):
            try:
                doc = parse_terraform_file(file)
            except Exception:  # noqa: BLE001 - an unreadable file on main allows nothing; the PR's check reports it
                continue
            found |= {provider_address(source) if source else provider_address(name)
                      for name, source in _required_providers(doc)}
    return found


def check_code(config: GitopsConfig, unit: UnitConfig | str, *, unreadable_ok: bool = False) -> None:
    """The static check of a unit in the workspace's checkout, against main's rules and providers (CodeRefused).
    unreadable_ok: for the syntax stage, whose Terraform reports a file it cannot parse with line and column (and
    runs nothing of it); every later stage refuses what the check cannot read."""
    unit_cfg = config.unit(unit) if isinstance(unit, str) else unit
    findings = static_check(config, unit_cfg, config.root, allowed_providers=providers_on_main(config, config.policy_root))
    findings = [f for f in findings if not (unreadable_ok and f.rule == "unreadable")]
    if findings:
        raise CodeRefused(refusal_text(unit_cfg.name, findings), unit=unit_cfg.name, findings=tuple(findings))
