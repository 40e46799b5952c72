"""Check recorded exchanges against GitHub's OpenAPI subset with openapi-core (a test/dev dependency).

Exchanges whose route or method is not in the subset are exempt; so are statuses the subset does not
document for that operation (GitHub answers 401, 502 or a secondary-rate-limit 403 on any path).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from werkzeug.datastructures import Headers

from gitops_pipelines_dev.contract import GitHubContract

from .state import Exchange

GITHUB_HOST = "https://api.github.com"
# Path parameters GitHub lets contain slashes (`git/ref/heads/feature/x`); openapi-core matches `{x}` as one segment.
SLASHED_PARAMS = {"ref", "basehead", "tag", "branch", "path"}
# Upstream quirk (see the contract README): GitHub's schemas declare some fields `nullable: true` with an `enum` that
# lists no null (check-run `conclusion`, issue `state_reason`), and GitHub answers null there (a running check, an open
# issue). openapi-core applies the enum to null too. An answer that fails only because of such a null is recorded as
# this quirk: it fails against the published subset and passes against a copy whose nullable enums also list null.
QUIRK_NULLABLE_ENUM = ("null at {fields}: nullable, but its enum lists no null "
                       "(upstream schema quirk, see contract README)")
# Another: `GET /contents/{path}` answers a directory with an array, but its oneOf has a discriminator on `type`
# (mapping `array` to content-directory) that only an object can carry, so openapi-core refuses every directory
# listing. Such an answer is this quirk when it passes against a copy without that discriminator.
QUIRK_ARRAY_DISCRIMINATOR = ("a directory listing (an array) under a oneOf discriminated by `type`, which only an "
                             "object can carry (upstream schema quirk of GET /contents/{path})")


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    parameters: object
    body: bytes | None
    content_type: str


@dataclass
class _Response:
    status_code: int
    data: bytes | None
    headers: Headers
    content_type: str = "application/json"


@dataclass
class CheckReport:
    validated: list[Exchange] = field(default_factory=list)
    exempt: list[tuple[Exchange, str]] = field(default_factory=list)
    quirks: list[tuple[Exchange, str]] = field(default_factory=list)
    failures: list[tuple[Exchange, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.validated)} validated ({len(self.quirks)} with a known upstream quirk), "
                 f"{len(self.exempt)} exempt, {len(self.failures)} failed"]
        lines += [f"  {x.method} {x.path} -> {x.status}: {why}" for x, why in self.failures]
        return "\n".join(lines)


@functools.lru_cache(maxsize=4)
def _openapi(spec_path: str):
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(spec_path)


def with_null_in_nullable_enums(node):
    """A copy of an OpenAPI 3.0 document (or part) where every `nullable: true` schema with an `enum` lacking null
    also lists null (what GitHub's answers mean); everything else is unchanged."""
    if isinstance(node, list):
        return [with_null_in_nullable_enums(item) for item in node]
    if not isinstance(node, dict):
        return node
    patched = {key: with_null_in_nullable_enums(value) for key, value in node.items()}
    enum = patched.get("enum")
    if patched.get("nullable") is True and isinstance(enum, list) and None not in enum:
        patched["enum"] = [*enum, None]
    return patched


def without_array_discriminators(node):
    """A copy of an OpenAPI document (or part) without the discriminators whose mapping names `array`; the oneOf
    they sit on then matches by shape alone. Everything else is unchanged."""
    if isinstance(node, list):
        return [without_array_discriminators(item) for item in node]
    if not isinstance(node, dict):
        return node
    patched = {key: without_array_discriminators(value) for key, value in node.items()}
    if "array" in (patched.get("discriminator") or {}).get("mapping", {}):
        del patched["discriminator"]
    return patched


@functools.lru_cache(maxsize=4)
def _openapi_array_listings(spec_path: str):
    """The subset at spec_path without the array-mapping discriminators, built once per path."""
    from openapi_core import OpenAPI

    document = json.loads(Path(spec_path).read_text())
    return OpenAPI.from_dict(without_array_discriminators(document), base_uri=Path(spec_path).resolve().as_uri())


@functools.lru_cache(maxsize=4)
def _openapi_null_enums(spec_path: str):
    """The subset at spec_path with null added to its nullable enums, built once per path."""
    from openapi_core import OpenAPI

    document = json.loads(Path(spec_path).read_text())
    return OpenAPI.from_dict(with_null_in_nullable_enums(document), base_uri=Path(spec_path).resolve().as_uri())


def documented(exchange: Exchange, contract: GitHubContract) -> str | None:
    """Why exchange is outside the contract, or None when the subset documents its route, method and status."""
    paths = contract.openapi_document["paths"]
    if exchange.route not in paths:
        return f"route {exchange.route} is not in the subset"
    operation = paths[exchange.route].get(exchange.method.lower())
    if operation is None:
        return f"{exchange.method} {exchange.route} is not in the subset"
    if str(exchange.status) not in operation["responses"] and "default" not in operation["responses"]:
        return f"status {exchange.status} is not documented for {exchange.method} {exchange.route}"
    return None


def _encoded_path(exchange: Exchange) -> str:
    """The request path with slashes inside slash-friendly parameters percent-encoded, so openapi-core can match it."""
    from urllib.parse import quote

    names = re.findall(r"\{(\w+)\}", exchange.route)
    pattern = re.escape(exchange.route)
    for name in names:
        group = "(.+)" if name in SLASHED_PARAMS else "([^/]+)"
        pattern = pattern.replace(re.escape("{" + name + "}"), group, 1)
    match = re.fullmatch(pattern, exchange.path)
    if not match:
        return exchange.path
    path = exchange.route
    for name, value in zip(names, match.groups()):
        path = path.replace("{" + name + "}", quote(value, safe=""), 1)
    return path


def _pair(exchange: Exchange) -> tuple[_Request, _Response]:
    from openapi_core.datatypes import RequestParameters
    from werkzeug.datastructures import ImmutableMultiDict
    from urllib.parse import parse_qsl

    request_headers = Headers(list(exchange.request_headers.items()))
    params = RequestParameters(query=ImmutableMultiDict(parse_qsl(exchange.query)), header=request_headers,
                               cookie=ImmutableMultiDict())
    request = _Request(GITHUB_HOST, _encoded_path(exchange), exchange.method.lower(), params, exchange.request_body or None,
                       request_headers.get("content-type", "application/json"))
    headers = Headers(list(exchange.response_headers.items()))
    content_type = headers.get("content-type", "application/json").split(";")[0]
    return request, _Response(exchange.status, exchange.response_body or None, headers, content_type)


def _failure(openapi, exchange: Exchange) -> Exception | None:
    request, response = _pair(exchange)
    try:
        openapi.validate_response(request, response)
    except Exception as exc:  # openapi-core raises a family of errors; all of them are a contract break
        return exc
    return None


def _describe(exc: Exception) -> str:
    details = "; ".join(str(e) for e in getattr(exc, "schema_errors", []) or [])[:2000]
    return f"{type(exc).__name__}: {exc} {details}".strip()


def _schema_errors(exc: BaseException | None) -> Iterable:
    """Every jsonschema error under exc: openapi-core chains them (InvalidData <- InvalidSchemaValue), and an
    anyOf/oneOf error keeps its branches' errors in `context`."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        pending = list(getattr(exc, "schema_errors", None) or [])
        while pending:
            error = pending.pop()
            yield error
            pending.extend(getattr(error, "context", None) or [])
        exc = exc.__cause__ or exc.__context__


def _field(path) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "<body>"


def _null_enum_fields(exc: Exception) -> list[str]:
    """The body fields where exc reports null missing from an enum, e.g. `['state_reason']`."""
    fields = {_field(error.absolute_path) for error in _schema_errors(exc)
              if error.validator == "enum" and error.instance is None}
    return sorted(fields)


def check(exchanges: Iterable[Exchange], contract: GitHubContract) -> CheckReport:
    """Validate every response in exchanges against contract's OpenAPI subset; see CheckReport.failures.

    A response that fails only because GitHub answers null at a nullable field whose enum lists no null (the upstream
    quirk, see QUIRK_NULLABLE_ENUM) goes to CheckReport.quirks, naming the fields; so does a directory listing that
    fails only on the array-mapping discriminator (QUIRK_ARRAY_DISCRIMINATOR). Any other failure is a failure."""
    report = CheckReport()
    spec_path = str(contract.openapi_path)
    for exchange in exchanges:
        why = documented(exchange, contract)
        if why:
            report.exempt.append((exchange, why))
            continue
        failure = _failure(_openapi(spec_path), exchange)
        if failure is not None and _failure(_openapi_null_enums(spec_path), exchange) is None:
            fields = ", ".join(_null_enum_fields(failure)) or "(not named by the validator)"
            report.quirks.append((exchange, QUIRK_NULLABLE_ENUM.format(fields=fields)))
            failure = None
        elif (failure is not None and exchange.response_body.lstrip().startswith(b"[")
              and _failure(_openapi_array_listings(spec_path), exchange) is None):
            report.quirks.append((exchange, QUIRK_ARRAY_DISCRIMINATOR))
            failure = None
        if failure is not None:
            report.failures.append((exchange, _describe(failure)))
            continue
        report.validated.append(exchange)
    return report
