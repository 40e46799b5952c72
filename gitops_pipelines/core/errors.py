"""Errors a user can act on. Each carries the exit code the CLI uses for it."""

from __future__ import annotations


class GitopsError(Exception):
    """Base for every error the product reports to a person."""

    exit_code = 1


class ConfigError(GitopsError):
    """gitops.yaml (or another input file) is broken: names the file, the field and what is allowed."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None):
        self.file = file
        self.field = field
        where = ": ".join(part for part in (file, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


class UsageError(GitopsError):
    exit_code = 2


class TerraformNotFound(GitopsError):
    """The terraform binary is missing or too old."""

    exit_code = 2


class StageFailed(GitopsError):
    """A stage ran and failed: invalid HCL, a failed apply, a leaked ephemeral resource."""

    exit_code = 1

    def __init__(self, message: str, *, unit: str | None = None, environment: str | None = None, output: str = ""):
        self.unit = unit
        self.environment = environment
        self.output = output
        prefix = "/".join(p for p in (unit, environment) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class LockHeld(StageFailed):
    """Another run holds the Terraform state lock for this unit and environment."""


class PlanRefused(GitopsError):
    """A stored plan may not be applied: tampered, stale, unknown, or bound to something else."""

    exit_code = 3


class GateRefused(PlanRefused):
    """The promotion gate refused to apply a change to an environment; the message lists every failed condition."""

    def __init__(self, message: str, *, unit: str, environment: str, change: str, refusals: tuple = ()):
        self.unit = unit
        self.environment = environment
        self.change = change
        self.refusals = refusals  # the GateRefusal of each failed condition
        super().__init__(message)


class PlanNotFound(PlanRefused):
    pass


class PlanTampered(PlanRefused):
    pass


class PlanStale(PlanRefused):
    pass


class PlanBindingMismatch(PlanRefused):
    pass


class LockFileChanged(PlanBindingMismatch):
    """The checkout's provider lock file selects other providers than the stored plan was made with."""

    def __init__(self, message: str, *, unit: str, environment: str, plan_id: str, providers: list[str]):
        self.unit = unit
        self.environment = environment
        self.plan_id = plan_id
        self.providers = providers  # source addresses, e.g. registry.terraform.io/hashicorp/aws
        super().__init__(message)


class CodeRefused(GitopsError):
    """The static check refused a unit's code before Terraform ran it: it would execute programs on the runner or
    reach providers or modules that are not allowed. Blocks like a policy deny; the message lists each finding."""

    exit_code = 3

    def __init__(self, message: str, *, unit: str, findings: tuple = ()):
        self.unit = unit
        self.findings = findings  # the StaticFinding of each refusal
        super().__init__(message)
