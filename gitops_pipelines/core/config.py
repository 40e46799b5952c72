"""gitops.yaml: parsed raw, `${VAR}` filled from the environment, then validated into typed settings."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from gitops_pipelines.core.errors import ConfigError

# `Fixes #12` and friends: how a pull request names the work item (issue) it belongs to.
WORK_ITEM_PATTERNS = (r"(?i)\b(?:fixes|closes|resolves|refs)\s+#(\d+)",)

DEFAULT_CONFIG = "gitops.yaml"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = r"^[a-z0-9][a-z0-9_-]*$"
# a GitHub login (`alice`) or a team (`acme/platform`)
_APPROVER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)?")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TerraformSettings(_Strict):
    binary: str = "terraform"
    provider_mirror: str | None = None
    lock_timeout: str = "30s"


class PlanStoreSettings(_Strict):
    url: str = ".gitops/plans"


class RunSettings(_Strict):
    """What every Terraform process of one target gets: environment, credentials, variables."""

    env: dict[str, str] = Field(default_factory=dict)
    credentials: list[str] = Field(default_factory=list, description="names of environment variables passed through")
    variables: dict[str, Any] = Field(default_factory=dict)
    var_files: list[str] = Field(default_factory=list)

    def process_env(self) -> dict[str, str]:
        """The variables to add to a Terraform process: `env` plus the named credentials from this process."""
        out = dict(self.env)
        for name in self.credentials:
            if name in os.environ:
                out[name] = os.environ[name]
        return out

    def secret_values(self) -> list[str]:
        return [os.environ[name] for name in self.credentials if os.environ.get(name)]


class ApprovalSettings(_Strict):
    """How many approving GitHub reviews of the merged head a change needs before it is applied."""

    required: int = Field(default=1, ge=0, description="approving reviews of the head, the author's never counts")

    @field_validator("required", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML `yes`/`true` would otherwise count as 1
            raise ValueError(f"must be a whole number >= 0 (got {value!r})")
        return value


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


class DriftSettings(_Strict):
    cron: str = "0 6 * * *"


class PolicySettings(_Strict):
    """Security policy checks run on every plan; a plan with an error-level violation is never applied."""

    allow: list[str] = Field(default_factory=list, description="rule ids, or rule-id:address-glob, to waive")
    rego_dir: str | None = Field(default=None, description="folder of *.rego files (query data.gitops.deny)")


class GitHubSettings(_Strict):
    repository: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    api_url: str = "https://api.github.com"
    main_branch: str = "main"
    token_env: str = "GITHUB_TOKEN"
    poll_seconds: int = Field(default=30, ge=1, description="how often the pull-request sensor polls GitHub")
    work_item_patterns: list[str] = Field(default_factory=lambda: list(WORK_ITEM_PATTERNS))


class GitopsConfig(_Strict):
    terraform: TerraformSettings = Field(default_factory=TerraformSettings)
    plan_store: PlanStoreSettings = Field(default_factory=PlanStoreSettings)
    # declared before `environments`, so that their validator sees it
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings,
                                        description="the default for environments that set no `approvals`")
    environments: list[EnvironmentConfig] = Field(min_length=1)
    ephemeral: EphemeralConfig = Field(default_factory=EphemeralConfig)
    units: list[UnitConfig] = Field(min_length=1)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    github: GitHubSettings | None = None
    root: Path = Field(default=Path("."), exclude=True, description="the folder gitops.yaml lives in")
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
    def _units_use_known_environments(self) -> "GitopsConfig":
        known = [e.name for e in self.environments]
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
    raw = _substitute(raw, os.environ if environ is None else environ, source, "")
    try:
        config = GitopsConfig.model_validate({**raw, "root": cfg_path.resolve().parent, "source": source})
    except ValidationError as exc:
        raise _config_error(exc, source) from None
    for i, unit in enumerate(config.units):
        if not config.unit_dir(unit).is_dir():
            raise ConfigError(
                f"unit {unit.name!r}: folder {unit.path!r} does not exist (paths are relative to {config.root})",
                file=source, field=f"units[{i}].path",
            )
    return config


def _substitute(value: Any, environ, source: str, where: str) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, environ, source, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, environ, source, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        def fill(m: re.Match) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1)
            if name not in environ:
                raise ConfigError(f"environment variable {name} is not set (write $${{{name}}} for a literal)",
                                  file=source, field=where)
            return environ[name]
        return _VAR.sub(fill, value)
    return value


def _config_error(exc: ValidationError, source: str) -> ConfigError:
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
    return ConfigError("; ".join(messages), file=source, field=first_field)


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
