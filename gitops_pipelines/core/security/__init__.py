"""What a unit's code may run before it is allowed to: the static check of `.tf` files that precedes every
PR-time init/plan and every apply (`static_check`), and the allowlists of providers and module sources it uses."""

from gitops_pipelines.core.security.allowlists import (
    BUILTIN_PROVIDER, lock_files_in, provider_address, provider_allowlist, providers_in_lock_files,
)
from gitops_pipelines.core.security.static_check import (
    RULES, StaticFinding, check_annotations, check_code, enforce_static_check, providers_on_main, refusal_text,
    static_check,
)

__all__ = [
    "BUILTIN_PROVIDER", "RULES", "StaticFinding", "check_annotations", "check_code", "providers_on_main", "enforce_static_check", "lock_files_in",
    "provider_address", "provider_allowlist", "providers_in_lock_files", "refusal_text", "static_check",
]
