"""What a change touches and what it releases: `detection` (changed files -> affected units, module references
followed with python-hcl2) and `versioning` (semantic versions from tags and commit messages)."""

from gitops_pipelines.core.changes.detection import ModuleRef, affected_units, module_dependencies, module_refs

__all__ = ["ModuleRef", "affected_units", "module_dependencies", "module_refs"]
