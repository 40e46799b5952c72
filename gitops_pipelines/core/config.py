"""gitops.yaml: parsed raw, `${VAR}` filled from the environment, then validated into typed settings."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from gitops_pipelines.core.errors import ConfigError
from gitops_pipelines.core.redact import Redactor, looks_secret
from gitops_pipelines.core.settings import (  # noqa: F401 - the sections are part of this module's API
    ApprovalSettings, DriftSettings, EnvironmentDrift, GitHubSettings, PlanStoreSettings, PolicySettings,
    PrChecksSettings, ReleaseSettings, RepositorySettings, SecuritySettings, TerraformSettings, _env_names, _Strict,
)

DEFAULT_CONFIG = "gitops.yaml"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ALLOW_ENV_KEY = "allow_env"  # secret-looking variables `${VAR}` may read
_NAME = r"^[a-z0-9][a-z0-9_-]*$"
# a GitHub login (`alice`) or a team (`acme/platform`)
_APPROVER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?")


# `credentials` (and `plan_credentials`): names of variables of this process, passed under the same name, or a
# mapping {name Terraform sees: name in this process}, so that e.g. AWS_ACCESS_KEY_ID (the only name the AWS
# provider reads) can come from TEST_PLAN_AWS_ACCESS_KEY_ID for one target and PROD_AWS_ACCESS_KEY_ID for another.
Credentials = list[str] | dict[str, str]
# which of an environment's credentials a Terraform process gets: `deploy` for applies, `plan` for plans that
# must not hold them (made at PR time on unmerged code, and drift); `plan` falls back to `deploy` when unset
CredentialSet = Literal["deploy", "plan"]


class RunSettings(_Strict):
    """What every Terraform process of one target gets: environment, credentials, variables."""

    env: dict[str, str] = Field(default_factory=dict)
    credentials: Credentials = Field(
        default_factory=list, description="variables of this process passed to Terraform: a list of names, or "
                                          "{name Terraform sees: name in this process}")
    variables: dict[str, Any] = Field(default_factory=dict)
    var_files: list[str] = Field(default_factory=list)

    @field_validator("credentials", mode="before")
    @classmethod
    def _credential_names(cls, value: Any) -> Any:
        return _check_credentials(value)

    def process_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """What this target adds to a Terraform process: `env`, then the credentials read from environ
        (default: this process's environment); a credential that is not set is left out."""
        return {**self.env, **_read_credentials(self.credentials, environ)}

    def secret_values(self, environ: Mapping[str, str] | None = None) -> list[str]:
        return [v for v in _read_credentials(self.credentials, environ).values() if v]


class EnvironmentConfig(RunSettings):
    name: str = Field(pattern=_NAME)
    auto_apply: bool = False
    backend_config: dict[str, str | int | bool] = Field(default_factory=dict)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings,
                                        description="unset: the top-level `approvals` applies")
    approvers: list[str] = Field(default_factory=list,
                                 description="GitHub logins or org/team slugs who may approve in the UI; empty: anyone")
    approver_must_review: bool = Field(
        default=True, description="a UI approval (release, manual deploy) also needs that person's approving GitHub "
                                  "review of the change's head, so GitHub proves who typed the name")
    plan_credentials: Credentials | None = Field(
        default=None, description="credentials for plans (a read-only role, say), in the form of `credentials`; they "
                                  "still need to write the state lock. Unset: plans use `credentials`")
    plan_env: dict[str, str] = Field(default_factory=dict, description="merged over `env` for plans")
    drift: EnvironmentDrift = Field(default_factory=EnvironmentDrift,
                                    description="this environment's drift schedule; unset: the top-level `drift`")

    @field_validator("plan_credentials", mode="before")
    @classmethod
    def _plan_credential_names(cls, value: Any) -> Any:
        return None if value is None else _check_credentials(value)

    def process_env(self, environ: Mapping[str, str] | None = None, *,
                    credentials: CredentialSet = "deploy") -> dict[str, str]:
        """What this environment adds to a Terraform process: for `plan`, `env` and `plan_env` with the plan
        credentials (the deploy ones when it names none); for `deploy`, `env` with the deploy credentials."""
        if credentials == "deploy":
            return super().process_env(environ)
        if credentials != "plan":
            raise ValueError(f"credentials must be 'deploy' or 'plan', not {credentials!r}")
        chosen = self.credentials if self.plan_credentials is None else self.plan_credentials
        return {**self.env, **self.plan_env, **_read_credentials(chosen, environ)}

    def secret_values(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """The values of both credential sets, so that either one is masked wherever it shows up."""
        plan = _read_credentials(self.plan_credentials or [], environ)
        return [*super().secret_values(environ), *(v for v in plan.values() if v)]

    @field_validator("approvers")
    @classmethod
    def _approvers_are_logins_or_teams(cls, approvers: list[str]) -> list[str]:
        for name in approvers:
            if not _APPROVER.fullmatch(name):
                raise ValueError(f"{name!r} is not a GitHub login (alice) or team (acme/platform)")
        return approvers


class EphemeralConfig(RunSettings):
    suffix_var: str = "name_suffix"


class UnitConfig(_Strict):
    name: str = Field(pattern=_NAME)
    kind: Literal["module", "project"]
    path: str
    environments: list[str] | None = None
    expect_outputs: list[str] = Field(default_factory=list)

    @property
    def is_project(self) -> bool:
        return self.kind == "project"


class GitopsConfig(_Strict):
    terraform: TerraformSettings = Field(default_factory=TerraformSettings)
    plan_store: PlanStoreSettings = Field(default_factory=PlanStoreSettings)
    # declared before `environments`, so that their validator sees it
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings,
                                        description="the default for environments that set no `approvals`")
    environments: list[EnvironmentConfig] = Field(default_factory=list, description=(
        "where projects are deployed, in promotion order; a repository of modules only may list none"))
    ephemeral: EphemeralConfig = Field(default_factory=EphemeralConfig)
    units: list[UnitConfig] = Field(min_length=1)
    pr_checks: PrChecksSettings = Field(default_factory=PrChecksSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    github: GitHubSettings | None = None
    releases: ReleaseSettings = Field(default_factory=ReleaseSettings)
    repositories: list[RepositorySettings] = Field(default_factory=list, description=(
        "other repositories whose module releases this one's units may source, and where this one's modules "
        "are used (consumers, bump pull requests)"))
    allow_env: list[str] = Field(default_factory=list,
                                 description="secret-looking environment variables `${VAR}` may read (read first)")
    rules_owners: list[str] = Field(
        default_factory=list, description="GitHub logins (or org/team) whose approval a change to the rules needs")
    root: Path = Field(default=Path("."), exclude=True, description="the folder gitops.yaml lives in")
    rules_root: Path | None = Field(default=None, exclude=True,
                                    description="where the rules were read (main's checkout); None: root")
    source: str = Field(default=DEFAULT_CONFIG, exclude=True)

    @field_validator("environments")
    @classmethod
    def _unique_envs(cls, envs: list[EnvironmentConfig]) -> list[EnvironmentConfig]:
        _no_duplicates([e.name for e in envs], "environment")
        return envs

    @field_validator("environments")
    @classmethod
    def _inherit_approvals(cls, envs: list[EnvironmentConfig], info: ValidationInfo) -> list[EnvironmentConfig]:
        """An environment that sets no `approvals` takes the top-level one."""
        default = info.data.get("approvals")  # absent when the top-level `approvals` is itself invalid
        if default is None:
            return envs
        return [e if "approvals" in e.model_fields_set else e.model_copy(update={"approvals": default}) for e in envs]

    @field_validator("units")
    @classmethod
    def _unique_units(cls, units: list[UnitConfig]) -> list[UnitConfig]:
        _no_duplicates([u.name for u in units], "unit")
        return units

    @model_validator(mode="after")
    def _one_tag_per_unit(self) -> "GitopsConfig":
        fmt = self.releases.tag_format
        if fmt is not None and "{unit}" not in fmt and len(self.units) > 1:
            raise ValueError(f"releases.tag_format: {fmt!r} names no {{unit}}, but gitops.yaml lists "
                             f"{len(self.units)} units whose versions would share tags; use '{{unit}}/v{{version}}'")
        return self

    @model_validator(mode="after")
    def _repositories_are_others(self) -> "GitopsConfig":
        if self.repositories and self.github is None:
            raise ValueError("repositories: other repositories are reached through GitHub; add a `github:` "
                             "section naming this repository")
        names = [r.name.lower() for r in self.repositories]
        _no_duplicates(names, "repository")
        if self.github is not None and self.github.repository.lower() in names:
            raise ValueError(f"repositories: {self.github.repository} is this repository (github.repository); "
                             "list only the others")
        return self

    @model_validator(mode="after")
    def _units_use_known_environments(self) -> "GitopsConfig":
        known = [e.name for e in self.environments]
        if self.projects and not known:
            raise ValueError(f"environments: project {self.projects[0].name!r} is deployed somewhere, but no "
                             "environment is declared; add one (name, env, credentials)")
        for i, unit in enumerate(self.units):
            if unit.kind == "module" and unit.environments:
                raise ValueError(f"units[{i}].environments: module {unit.name!r} is never deployed; remove environments")
            for env in unit.environments or []:
                if env not in known:
                    raise ValueError(f"units[{i}].environments: unknown environment {env!r}; known: {', '.join(known)}")
        return self

    # -- lookups -------------------------------------------------------------------------------------------------
    def unit(self, name: str) -> UnitConfig:
        for unit in self.units:
            if unit.name == name:
                return unit
        raise ConfigError(
            f"no unit named {name!r}; units: {', '.join(u.name for u in self.units)}", file=self.source, field="units"
        )

    def environment(self, name: str) -> EnvironmentConfig:
        for env in self.environments:
            if env.name == name:
                return env
        raise ConfigError(
            f"no environment named {name!r}; environments: {', '.join(e.name for e in self.environments)}",
            file=self.source, field="environments",
        )

    def drift_cron(self, environment: str) -> str:
        """When `environment` is checked for drift: its own `drift.cron`, else the top-level `drift.cron`."""
        return self.environment(environment).drift.cron or self.drift.cron

    @property
    def policy_root(self) -> Path:
        """The folder the policy files are read from: main's checkout, never the change's."""
        return self.rules_root or self.root

    def unit_environments(self, unit: UnitConfig) -> list[EnvironmentConfig]:
        """A project's environments in promotion order; a module has none."""
        if unit.kind == "module":
            return []
        names = unit.environments or [e.name for e in self.environments]
        return [e for e in self.environments if e.name in names]

    def unit_dir(self, unit: UnitConfig) -> Path:
        return (self.root / unit.path).resolve()

    @property
    def projects(self) -> list[UnitConfig]:
        return [u for u in self.units if u.kind == "project"]

    @property
    def modules(self) -> list[UnitConfig]:
        return [u for u in self.units if u.kind == "module"]


def _no_duplicates(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} is declared twice")
        seen.add(name)


def _check_credentials(value: Any) -> Any:
    """A list of names, or a mapping {name Terraform sees: name in this process}; every name exact."""
    if isinstance(value, dict):
        _env_names([*value, *value.values()])
    elif isinstance(value, list):
        _env_names(value)
    else:
        raise ValueError("must be a list of variable names, or a mapping {name Terraform sees: name in this process} "
                         f"(got {value!r})")
    return value


def _read_credentials(credentials: Credentials, environ: Mapping[str, str] | None) -> dict[str, str]:
    """{name Terraform sees: value} for the credentials set in environ (default: this process's environment)."""
    source = os.environ if environ is None else environ
    pairs = credentials.items() if isinstance(credentials, dict) else ((name, name) for name in credentials)
    return {target: source[name] for target, name in pairs if name in source}


def resolve_config_path(explicit: str | os.PathLike | None = None) -> Path:
    """--config, else $GITOPS_CONFIG, else ./gitops.yaml."""
    return Path(explicit or os.environ.get("GITOPS_CONFIG") or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike | None = None, environ: dict[str, str] | None = None) -> GitopsConfig:
    """Read, substitute and validate gitops.yaml; every problem is a ConfigError naming file and field."""
    cfg_path = resolve_config_path(path)
    source = str(cfg_path)
    try:
        text = cfg_path.read_text()
    except FileNotFoundError:
        raise ConfigError("file not found; pass --config or set GITOPS_CONFIG", file=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=source) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{where}not valid YAML ({getattr(exc, 'problem', exc)})", file=source) from None
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping with at least `environments` and `units`", file=source)
    allowed = raw.get(ALLOW_ENV_KEY) or []
    if not isinstance(allowed, list) or not all(isinstance(n, str) for n in allowed):
        raise ConfigError("must be a list of environment variable names", file=source, field=ALLOW_ENV_KEY)
    expanded: list[str] = []
    raw = _substitute(raw, os.environ if environ is None else environ, source, "", set(allowed), expanded)
    try:
        config = GitopsConfig.model_validate({**raw, "root": cfg_path.resolve().parent, "source": source})
    except ValidationError as exc:
        # a message must never show what ${VAR} expanded to (pydantic echoes the input it rejects)
        raise _config_error(exc, source, Redactor(expanded)) from None
    for i, unit in enumerate(config.units):
        if not config.unit_dir(unit).is_dir():
            raise ConfigError(
                f"unit {unit.name!r}: folder {unit.path!r} does not exist (paths are relative to {config.root})",
                file=source, field=f"units[{i}].path",
            )
    return config


def _substitute(value: Any, environ, source: str, where: str, allowed: set[str], expanded: list[str]) -> Any:
    """`${VAR}` filled from environ; a variable whose name looks secret only when `allow_env` lists it."""
    if isinstance(value, dict):
        return {k: _substitute(v, environ, source, f"{where}.{k}" if where else str(k), allowed, expanded)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, source, f"{where}[{i}]", allowed, expanded) for i, v in enumerate(value)]
    if isinstance(value, str):
        def fill(m: re.Match) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1)
            if looks_secret(name) and name not in allowed:
                raise ConfigError(f"${{{name}}} names a secret-looking variable; list it under `{ALLOW_ENV_KEY}` "
                                  "if gitops.yaml really must read it (credentials are passed by name instead: "
                                  "`credentials: [NAME]`)", file=source, field=where)
            if name not in environ:
                raise ConfigError(f"environment variable {name} is not set (write $${{{name}}} for a literal)",
                                  file=source, field=where)
            expanded.append(environ[name])
            return environ[name]
        return _VAR.sub(fill, value)
    return value


def _config_error(exc: ValidationError, source: str, redact: Redactor) -> ConfigError:
    messages = []
    first_field = None
    for err in exc.errors():
        field = _loc(err["loc"])
        first_field = first_field or field
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(err["loc"][:-1])
            msg = f"unknown key {err['loc'][-1]!r}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif err["type"] == "literal_error":
            msg = f"{err['msg']} (got {err.get('input')!r})"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        # the first field goes into ConfigError.field (and so leads the text); later ones name their own field
        messages.append(f"{field}: {msg}" if field and messages else msg)
    return ConfigError(redact("; ".join(messages)), file=source, field=first_field)


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(loc: tuple) -> list[str]:
    """Walk the model tree along loc to list the keys that are allowed there."""
    model: Any = GitopsConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _model_of(field.annotation)
        if model is None:
            return []
    return [k for k, f in model.model_fields.items() if not f.exclude]


def _model_of(annotation: Any):
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None
