"""The signed GitHub webhook receiver: verifies, deduplicates and stores deliveries for the sensors."""

from gitops_pipelines.webhooks.app import DEFAULT_MAX_BODY, WEBHOOK_PATH, create_app, sign

__all__ = ["DEFAULT_MAX_BODY", "WEBHOOK_PATH", "create_app", "sign"]
