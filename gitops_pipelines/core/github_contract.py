"""GitHub's published contract (REST OpenAPI subset, webhook examples, octokit webhook schemas), read from disk.

The contract folder lives beside the checkout (`../shared/github-contract`); `GITOPS_GITHUB_CONTRACT` overrides it.
Plain Python: no dagster, and jsonschema/referencing are imported only when a schema is needed.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

ENV_VAR = "GITOPS_GITHUB_CONTRACT"
OCTOKIT_DIALECT = "api.github.com"


def contract_dir() -> Path:
    """The github-contract folder: `$GITOPS_GITHUB_CONTRACT`, else `<checkout>/../shared/github-contract`."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "github-contract"


def openapi_path() -> Path:
    """The REST OpenAPI 3.0 subset every emulator response must satisfy."""
    return contract_dir() / "openapi" / "api.github.com.subset.json"


@functools.lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return json.loads(openapi_path().read_text())


def openapi_schema(name: str) -> dict[str, Any]:
    """One component schema (`#/components/schemas/<name>`) of the OpenAPI subset."""
    return openapi_document()["components"]["schemas"][name]


@functools.lru_cache(maxsize=None)
def _example(event: str, name: str) -> str:
    path = contract_dir() / "webhooks" / event / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no webhook example {event}/{name}.json in {contract_dir() / 'webhooks'}")
    return path.read_text()


def webhook_example(event: str, name: str) -> dict[str, Any]:
    """A fresh copy of a real webhook payload, e.g. `webhook_example("pull_request", "opened")`."""
    return json.loads(_example(event, name))


def octokit_schema_dir() -> Path:
    return contract_dir() / "webhook-schemas" / "octokit" / "payload-schemas" / OCTOKIT_DIALECT


@functools.lru_cache(maxsize=1)
def octokit_registry():
    """Every octokit payload schema in a `referencing.Registry`, keyed by its `$id` (the `$ref`s use those ids)."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    resources = []
    for path in sorted(octokit_schema_dir().rglob("*.schema.json")):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


def octokit_schema_id(event: str, action: str | None = None) -> str:
    """`pull_request$closed`; push and ping have no action and use `push$event`."""
    return f"{event}${action or 'event'}"


@functools.lru_cache(maxsize=None)
def _validator(schema_id: str):
    from jsonschema import Draft7Validator

    schema = octokit_registry().contents(schema_id)
    return Draft7Validator(schema, registry=octokit_registry(), format_checker=Draft7Validator.FORMAT_CHECKER)


def webhook_errors(payload: dict[str, Any], event: str, action: str | None = None) -> list[str]:
    """Every way payload breaks the octokit schema for event/action (empty when it conforms)."""
    validator = _validator(octokit_schema_id(event, action))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message[:300]}"
        for error in validator.iter_errors(payload)
    ]


def validate(payload: dict[str, Any], event: str, action: str | None = None) -> None:
    """Raise ValueError naming every difference between payload and the octokit schema for event/action."""
    errors = webhook_errors(payload, event, action or payload.get("action"))
    if errors:
        raise ValueError(f"{event}.{action or payload.get('action')} payload breaks the octokit schema:\n  " + "\n  ".join(errors))
