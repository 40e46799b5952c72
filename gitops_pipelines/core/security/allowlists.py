"""What a unit's code may reach: providers (by source address) and remote module sources.

Providers: `security.providers` in gitops.yaml when it is set (addresses or globs; it replaces the default),
otherwise the providers in the base branch's lock files, which the driver reads with `providers_in_lock_files`.
Terraform's built-in provider (`terraform_data`, `terraform_remote_state`) is always allowed.

Module sources: local paths inside the repository are followed and checked like the unit's own code. A remote
source is downloaded by `terraform init` and runs unchecked, so by default only one kind is allowed: a git source
of this repository (`github.repository`) pinned to a release tag `<module>/v<semver>` of a declared module unit, at
that unit's path, or of a repository gitops.yaml lists under `repositories:`; that code was merged to a main and
released. Anything else (registry, other repositories,
branches, SHAs, http, s3) must match a glob of `security.module_sources`. Protect the `*-v*` tags on GitHub so that
only the release stage creates them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from gitops_pipelines.core.changes.detection import ModuleRef
from gitops_pipelines.core.changes.versioning import parse_tag
from gitops_pipelines.core.config import GitopsConfig
from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.plan_store.lock_file import LockFileUnreadable, read_lock_file

BUILTIN_PROVIDER = "terraform.io/builtin/terraform"
DEFAULT_REGISTRY = "registry.terraform.io"
LOCK_FILE = ".terraform.lock.hcl"
_PLAIN_RELEASE = re.compile(r"v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")
_NOT_CODE_DIRS = frozenset({".terraform", ".git", ".gitops"})


# -- providers -----------------------------------------------------------------------------------------------
def provider_address(source: str) -> str:
    """A provider source as Terraform qualifies it, lowercase: `hashicorp/aws` and `aws` ->
    `registry.terraform.io/hashicorp/aws`."""
    parts = [p for p in source.strip().lower().split("/") if p]
    if len(parts) == 1:
        parts = ["hashicorp", *parts]
    if len(parts) == 2:
        parts = [DEFAULT_REGISTRY, *parts]
    return "/".join(parts)


def providers_in_lock_files(paths: Iterable[str | os.PathLike]) -> set[str]:
    """The provider addresses the given lock files select; a path that does not exist is skipped (a unit may
    commit none), a file that is not a lock file is a ConfigError."""
    found: set[str] = set()
    for path in map(Path, paths):
        if not path.is_file():
            continue
        try:
            found |= {provider_address(source) for source in read_lock_file(path.read_bytes())}
        except LockFileUnreadable as exc:
            raise ConfigError(f"cannot read the providers it selects: {exc}", file=str(path)) from None
    return found


def lock_files_in(root: str | os.PathLike) -> list[Path]:
    """Every committed `.terraform.lock.hcl` under a checkout (of the base branch, say), sorted; what `init`
    downloads into `.terraform/` and the pipeline's own `.gitops/` do not count."""
    base = Path(root)
    return sorted(p for p in base.rglob(LOCK_FILE) if not _NOT_CODE_DIRS & set(p.relative_to(base).parts[:-1]))


def provider_allowlist(config: GitopsConfig, default: Iterable[str]) -> set[str]:
    """The provider addresses (or globs) a unit may use: `security.providers`, else `default`; always the built-in."""
    chosen = config.security.providers if config.security.providers is not None else default
    return {provider_address(p) for p in chosen} | {BUILTIN_PROVIDER}


def provider_allowed(address: str, allowlist: Iterable[str]) -> bool:
    return any(fnmatchcase(address, pattern) for pattern in allowlist)


# -- module sources ------------------------------------------------------------------------------------------
def module_source_allowed(ref: ModuleRef, config: GitopsConfig) -> bool:
    """Whether a remote module source may be downloaded: a glob of `security.module_sources`, or a release tag of
    one of this repository's module units."""
    written = [ref.source]
    if ref.kind == "registry" and ref.source.count("/") < 3:  # registry addresses may leave out the host
        written.append(f"{DEFAULT_REGISTRY}/{ref.source}")
    if any(fnmatchcase(s, glob) for s in written for glob in config.security.module_sources):
        return True
    return _own_release(ref, config) or _listed_release(ref, config)


def _own_release(ref: ModuleRef, config: GitopsConfig) -> bool:
    if ref.kind != "git" or config.github is None or not ref.ref:
        return False
    tagged = parse_tag(ref.ref)
    this_repository = f"{web_host(config.github)}/{config.github.repository}".lower()
    if tagged is None or _repository(ref.source) != this_repository:
        return False
    name = tagged[0]
    return any(unit.name == name and PurePosixPath(unit.path.strip("/")) == PurePosixPath(ref.path)
               for unit in config.modules)


def _listed_release(ref: ModuleRef, config: GitopsConfig) -> bool:
    """A release tag (`<module>/v1.2.3`, or `v1.2.3` of a one-unit repository) of a repository that gitops.yaml
    lists under `repositories:`; module_refs then asks that the tag exists there."""
    if ref.kind != "git" or config.github is None or not ref.ref:
        return False
    where = _repository(ref.source)
    host = web_host(config.github)
    if not any(where == (_repository(r.url) if r.url else f"{host}/{r.name}".lower()) for r in config.repositories):
        return False
    tagged = parse_tag(ref.ref)
    if tagged is not None:
        return tagged[0] == PurePosixPath(ref.path.strip("/")).name
    return bool(_PLAIN_RELEASE.fullmatch(ref.ref))


def same_repository(source: str, url: str) -> bool:
    """Whether a module source (`git::https://github.com/acme/infra.git//modules/x?ref=..`) is in the repository
    at url, whatever the URL form (https, ssh, scp-like)."""
    return _repository(source) == _repository(url)


def _repository(source: str) -> str:
    """`git::https://github.com/acme/infra.git//modules/x?ref=...` (or ssh, or scp-like) -> `github.com/acme/infra`."""
    address = source.split("?", 1)[0].removeprefix("git::")
    has_scheme = "://" in address
    if has_scheme:
        address = address.split("://", 1)[1]
    address = address.split("//", 1)[0]  # the folder inside the repository
    if "@" in address.split("/", 1)[0]:  # git@github.com
        address = address.split("@", 1)[1]
    host, _, path = address.replace(":", "/", 1).partition("/") if not has_scheme else address.partition("/")
    return f"{host.split(':', 1)[0]}/{path.strip('/').removesuffix('.git')}".lower()


def web_host(github: Any) -> str:
    """The host git and module sources use for the repository: `github.web_url`, else derived from api_url."""
    return (urlparse(github.web_url).hostname or "").lower() if github.web_url else github_host(github.api_url)


def github_host(api_url: str) -> str:
    host = (urlparse(api_url).hostname or "").lower()
    return "github.com" if host == "api.github.com" else host
