"""GitHub's published contract (REST OpenAPI subset, webhook examples, octokit webhook schemas), read from a folder.

The caller says where the folder is (the checkout keeps it at `../shared/github-contract`; the entry points take it
from `--github-contract` or `$GITOPS_GITHUB_CONTRACT`). jsonschema/referencing are imported only when a schema is needed.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path
from typing import Any

ENV_VAR = "GITOPS_GITHUB_CONTRACT"
OCTOKIT_DIALECT = "api.github.com"


def add_contract_argument(parser: argparse.ArgumentParser) -> None:
    """`--github-contract DIR`, defaulting to $GITOPS_GITHUB_CONTRACT, for an entry point that needs the contract."""
    parser.add_argument("--github-contract", default=os.environ.get(ENV_VAR), metavar="DIR",
                        help=f"GitHub's published contract folder (default: ${ENV_VAR})")


def contract_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> "GitHubContract":
    """The contract the arguments name; a missing or wrong folder is a usage error that says what to pass."""
    if not args.github_contract:
        parser.error(f"the GitHub contract folder is needed: --github-contract DIR or ${ENV_VAR}")
    try:
        return GitHubContract(args.github_contract)
    except FileNotFoundError as exc:
        parser.error(str(exc))
        raise  # parser.error exits; this keeps type checkers honest


class GitHubContract:
    """One contract folder; every file is read once and kept (the emulator reads examples on each webhook)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not (self.root / "openapi").is_dir() or not (self.root / "webhooks").is_dir():
            raise FileNotFoundError(
                f"no GitHub contract data (openapi/, webhooks/) in {self.root}: pass the github-contract folder "
                f"(--github-contract or ${ENV_VAR})"
            )
        self._examples: dict[tuple[str, str], str] = {}
        self._validators: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"GitHubContract({str(self.root)!r})"

    @property
    def openapi_path(self) -> Path:
        """The REST OpenAPI 3.0 subset every emulator response must satisfy."""
        return self.root / "openapi" / "api.github.com.subset.json"

    @functools.cached_property
    def openapi_document(self) -> dict[str, Any]:
        return json.loads(self.openapi_path.read_text())

    def openapi_schema(self, name: str) -> dict[str, Any]:
        """One component schema (`#/components/schemas/<name>`) of the OpenAPI subset."""
        return self.openapi_document["components"]["schemas"][name]

    def webhook_example(self, event: str, name: str) -> dict[str, Any]:
        """A fresh copy of a real webhook payload, e.g. `webhook_example("pull_request", "opened")`."""
        key = (event, name)
        if key not in self._examples:
            path = self.root / "webhooks" / event / f"{name}.json"
            if not path.is_file():
                raise FileNotFoundError(f"no webhook example {event}/{name}.json in {self.root / 'webhooks'}")
            self._examples[key] = path.read_text()
        return json.loads(self._examples[key])

    @property
    def octokit_schema_dir(self) -> Path:
        return self.root / "webhook-schemas" / "octokit" / "payload-schemas" / OCTOKIT_DIALECT

    @functools.cached_property
    def octokit_registry(self):
        """Every octokit payload schema in a `referencing.Registry`, keyed by its `$id` (the `$ref`s use those ids)."""
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT7

        resources = []
        for path in sorted(self.octokit_schema_dir.rglob("*.schema.json")):
            contents = json.loads(path.read_text())
            resources.append((contents["$id"], Resource.from_contents(contents, default_specification=DRAFT7)))
        return Registry().with_resources(resources)

    def _validator(self, schema_id: str):
        if schema_id not in self._validators:
            from jsonschema import Draft7Validator

            schema = self.octokit_registry.contents(schema_id)
            self._validators[schema_id] = Draft7Validator(schema, registry=self.octokit_registry,
                                                          format_checker=Draft7Validator.FORMAT_CHECKER)
        return self._validators[schema_id]

    def webhook_errors(self, payload: dict[str, Any], event: str, action: str | None = None) -> list[str]:
        """Every way payload breaks the octokit schema for event/action (empty when it conforms)."""
        validator = self._validator(octokit_schema_id(event, action))
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message[:300]}"
            for error in validator.iter_errors(payload)
        ]

    def validate(self, payload: dict[str, Any], event: str, action: str | None = None) -> None:
        """Raise ValueError naming every difference between payload and the octokit schema for event/action."""
        action = action or payload.get("action")
        errors = self.webhook_errors(payload, event, action)
        if errors:
            raise ValueError(f"{event}.{action} payload breaks the octokit schema:\n  " + "\n  ".join(errors))


def octokit_schema_id(event: str, action: str | None = None) -> str:
    """`pull_request$closed`; push and ping have no action and use `push$event`."""
    return f"{event}${action or 'event'}"
