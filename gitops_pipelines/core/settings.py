"""The small, self-contained sections of gitops.yaml: terraform, plan_store, approvals, pr_checks, drift, policy,
security, github, releases. Every model is strict (unknown keys are errors) and frozen; config.py assembles them into
GitopsConfig."""

from __future__ import annotations

import datetime
import re
from typing import Any, Literal

import semver
from pydantic import BaseModel, ConfigDict, Field, field_validator

# `Fixes #12` and friends: how a pull request names the work item (issue) it belongs to.
WORK_ITEM_PATTERNS = (r"(?i)\b(?:fixes|closes|resolves|refs)\s+#(\d+)",)

# one environment variable, named exactly: what reaches Terraform is a list a reviewer can read, never a pattern
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TerraformSettings(_Strict):
    binary: str = "terraform"
    provider_mirror: str | None = None
    git_config: str | None = Field(default=None, description=(
        "a git config file that Terraform's git (module sources) and the module_refs check use as their global "
        "one (GIT_CONFIG_GLOBAL): `url.<base>.insteadOf` for a mirror or offline copy, a credential helper"))
    lock_timeout: str = "30s"
    pass_env: list[str] = Field(
        default_factory=list, description="exact names of further variables of this process that every Terraform "
                                          "process gets, beside terraform.PROCESS_ENV_ALLOWLIST (no patterns)")

    @field_validator("pass_env")
    @classmethod
    def _exact_names(cls, names: list[str]) -> list[str]:
        return _env_names(names)


class PlanStoreSettings(_Strict):
    url: str = ".gitops/plans"


class ApprovalSettings(_Strict):
    """How many approving GitHub reviews of the merged head a change needs before it is applied."""

    required: int = Field(default=1, ge=0, description="approving reviews of the head, the author's never counts")

    @field_validator("required", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML `yes`/`true` would otherwise count as 1
            raise ValueError(f"must be a whole number >= 0 (got {value!r})")
        return value


# five cron fields (minute hour day-of-month month day-of-week) or a shorthand, as Dagster schedules take them
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,#-]+")
_CRON_SHORTHANDS = ("@hourly", "@daily", "@weekly", "@monthly")


def _cron(value: Any) -> Any:
    if value is None or value in _CRON_SHORTHANDS:
        return value
    fields = value.split() if isinstance(value, str) else []
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise ValueError(f"{value!r} is not a cron schedule: five fields (minute hour day-of-month month "
                         f"day-of-week), e.g. '0 6 * * *', or one of {', '.join(_CRON_SHORTHANDS)}")
    return value


class DriftSettings(_Strict):
    """When every environment is checked for drift, and how many drift plans run at once."""

    cron: str = Field(default="0 6 * * *", description="the default drift schedule of every environment")
    parallelism: int = Field(default=4, ge=1, description=(
        "drift plans (one unit in one environment) running at once in one drift run: the multiprocess "
        "executor's max_concurrent"))

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return _cron(value)

    @field_validator("parallelism", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        return _count(value)


def _count(value: Any) -> Any:
    if isinstance(value, bool):  # YAML `yes` would otherwise be 1
        raise ValueError(f"must be a whole number >= 1 (got {value!r})")
    return value


class PrChecksSettings(_Strict):
    """How many of a change's PR-time stages run at once."""

    parallelism: int = Field(default=4, ge=1, description=(
        "PR-time stage steps (syntax, ephemeral_test, first plan; one unit each) running at once in one pr_checks "
        "run: the pr_checks executor's max_concurrent. It bounds one run; pull requests checked at the same time "
        "each get their own run"))

    @field_validator("parallelism", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        return _count(value)


class EnvironmentDrift(_Strict):
    """An environment's own drift schedule (`environments[].drift`); unset fields take the top-level `drift`."""

    cron: str | None = Field(default=None, description="this environment's drift schedule; unset: drift.cron")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        return _cron(value)


class Waiver(_Strict):
    """An exception to one policy rule, for the resources an address glob names, with why and until when."""

    rule: str = Field(min_length=1, description="the rule id, e.g. no-local-exec or main.deny")
    address: str = Field(default="*", description="a glob of resource addresses (default: every resource)")
    reason: str = Field(min_length=1, description="why the exception is acceptable (shown on every report)")
    expires: datetime.date = Field(description="the last day it waives (YYYY-MM-DD); after that the rule applies")


class PolicySettings(_Strict):
    """Security policy checks run on every plan; a plan with an error-level violation is never applied."""

    allow: list[str] = Field(default_factory=list, description="rule ids, or rule-id:address-glob, to waive")
    waivers: list[Waiver] = Field(default_factory=list, description="exceptions with a reason and an expiry date")
    rego_dir: str | None = Field(default="policies", description=(
        "the repository's own Rego policies, conftest style (deny, violation, warn); read from main"))
    namespaces: list[str] = Field(default_factory=lambda: ["main"],
                                  description="the Rego packages whose deny/violation/warn rule sets count")
    required_tags: list[str] = Field(default_factory=list, description=(
        "tag keys every taggable resource a plan creates or updates must carry (the default pack's "
        "required-tags rule; none: the rule is off)"))


class SecuritySettings(_Strict):
    """What the static check (core/security) lets a unit's code reach before any init, plan or apply."""

    providers: list[str] | None = Field(
        default=None, description="provider source addresses or globs (registry.terraform.io/hashicorp/aws); "
                                  "unset: the providers in the base branch's lock files")
    module_sources: list[str] = Field(
        default_factory=list, description="globs of remote module sources allowed besides local paths and release "
                                          "tags of this repository's module units (`*` also matches `/`)")
    # here, not on the unit: units are read from the commit under test, which must not grant itself this
    allow_provisioners: dict[str, list[Literal["local-exec", "remote-exec", "file"]]] = Field(
        default_factory=dict, description="unit name -> provisioner types its code (and the local modules it "
                                          "sources) may use; they run on the runner with its credentials")


class GitHubSettings(_Strict):
    repository: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    api_url: str = "https://api.github.com"
    web_url: str | None = Field(default=None, description=(
        "where people and git reach the host (`https://github.com`), as module sources name it; default: from "
        "api_url (api.github.com -> github.com, an Enterprise Server's own host)"))
    main_branch: str = "main"
    allow_fork_prs: bool = Field(
        default=False, description="plan and test pull requests from forks: their code then runs on the runner "
                                   "with the environments' credentials")
    token_env: str = "GITHUB_TOKEN"
    poll_seconds: int = Field(default=30, ge=1, description="how often the pull-request sensor polls GitHub")
    webhook_fallback_poll_seconds: int = Field(default=300, ge=0, description=(
        "with webhooks, how often the webhook sensor also polls (one conditional request), so an event no delivery "
        "brought (the receiver was down) still starts its runs; 0: never"))
    work_item_patterns: list[str] = Field(default_factory=lambda: list(WORK_ITEM_PATTERNS))


class RepositorySettings(_Strict):
    """Another repository of the same GitHub that this one shares modules with (the mixed layout: a modules
    repository and a projects repository, say). Each repository is a Dagster code location of its own, judged by
    its own gitops.yaml on its own main; this list only says where modules come from and go to."""

    name: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="owner/name on the GitHub of `github:`")
    url: str | None = Field(default=None, description=(
        "where git reads it (module sources name it so); default: https://<github.web_url host>/<name>.git"))
    main_branch: str = Field(default="main", description="the branch whose code is what the repository runs")


def _env_names(names: list[str]) -> list[str]:
    for name in names:
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not the exact name of an environment variable (patterns such as AWS_* "
                             "are not allowed: list each name)")
    return names


class ReleaseLabels(_Strict):
    """The pull-request labels that choose a release's bump (before conventional-commit titles)."""

    major: str = "release:major"
    minor: str = "release:minor"
    patch: str = "release:patch"


class ReleaseSettings(_Strict):
    """How releases are versioned and tagged (a git tag and a GitHub Release per version of a unit)."""

    tag_format: str | None = Field(default=None, description=(
        "the git tag of a version, with {version} and, where gitops.yaml lists several units, {unit}; default "
        "'{unit}/v{version}', or 'v{version}' where it lists one"))
    first_version: str = Field(default="0.1.0", description="the version of a unit's first release")
    bump_consumers: bool = Field(default=False, description=(
        "after a module release, open one pull request per unit that uses an older release of it, moving its "
        "`?ref=` to the new tag"))
    labels: ReleaseLabels = Field(default_factory=ReleaseLabels)

    @field_validator("tag_format")
    @classmethod
    def _has_version(cls, value: str | None) -> str | None:
        if value is not None and "{version}" not in value:
            raise ValueError(f"{value!r} has no {{version}}; for example '{{unit}}/v{{version}}'")
        if value is not None and re.search(r"\{(?!unit\}|version\})", value):
            raise ValueError(f"{value!r}: only {{unit}} and {{version}} may be filled in")
        return value

    @field_validator("first_version")
    @classmethod
    def _semver(cls, value: str) -> str:
        try:
            semver.Version.parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 0.1.0)") from None
        return value
