"""Thin ConfigurableResources that build core objects from config and dg.EnvVar secrets."""

from gitops_pipelines.resources.gitops import GitopsResource

__all__ = ["GitopsResource"]
