"""Check recorded exchanges against GitHub's OpenAPI subset with openapi-core (a test/dev dependency).

Exchanges whose route is not in the subset (e.g. `GET /issues/{n}`) are exempt; so are statuses the subset does not
document for that operation (GitHub answers 401, 502 or a secondary-rate-limit 403 on any path).
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Iterable

from werkzeug.datastructures import Headers

from gitops_pipelines.core.github_contract import openapi_document, openapi_path

from .state import Exchange

GITHUB_HOST = "https://api.github.com"
# Path parameters GitHub lets contain slashes (`git/ref/heads/feature/x`); openapi-core matches `{x}` as one segment.
SLASHED_PARAMS = {"ref", "basehead", "tag", "branch"}
# GitHub's own schema lists no null in check-run.conclusion, yet GitHub (and its own example, see the contract
# README) answers `conclusion: null` until a run completes. Such answers are checked with that one value set.
QUIRK_NULL_CONCLUSION = "check-run conclusion is null before completion (upstream schema quirk, see contract README)"


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


@functools.lru_cache(maxsize=1)
def _openapi():
    from openapi_core import OpenAPI

    return OpenAPI.from_file_path(str(openapi_path()))


def documented(exchange: Exchange) -> str | None:
    """Why exchange is outside the contract, or None when the subset documents its route, method and status."""
    paths = openapi_document()["paths"]
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


def _pair(exchange: Exchange, body: bytes | None = None) -> tuple[_Request, _Response]:
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
    data = body if body is not None else exchange.response_body or None
    return request, _Response(exchange.status, data, headers, content_type)


def _validate(exchange: Exchange, body: bytes | None = None) -> str | None:
    request, response = _pair(exchange, body)
    try:
        _openapi().validate_response(request, response)
    except Exception as exc:  # openapi-core raises a family of errors; all of them are a contract break
        details = "; ".join(str(e) for e in getattr(exc, "schema_errors", []) or [])[:2000]
        return f"{type(exc).__name__}: {exc} {details}".strip()
    return None


def _null_conclusion_variant(exchange: Exchange) -> bytes | None:
    if "/check-runs" not in exchange.route or not exchange.response_body:
        return None
    body = json.loads(exchange.response_body)
    if not isinstance(body, dict) or body.get("conclusion") is not None or body.get("status") == "completed":
        return None
    patched = copy.deepcopy(body)
    patched["conclusion"] = "neutral"
    return json.dumps(patched).encode()


def check(exchanges: Iterable[Exchange]) -> CheckReport:
    """Validate every response (and its request) in exchanges; see CheckReport.failures."""
    report = CheckReport()
    for exchange in exchanges:
        why = documented(exchange)
        if why:
            report.exempt.append((exchange, why))
            continue
        problem = _validate(exchange)
        variant = _null_conclusion_variant(exchange) if problem else None
        if problem and variant is not None and _validate(exchange, variant) is None:
            report.quirks.append((exchange, QUIRK_NULL_CONCLUSION))
            problem = None
        if problem:
            report.failures.append((exchange, problem))
            continue
        report.validated.append(exchange)
    return report
