"""ASGI app that receives GitHub webhooks: check the HMAC signature, dedupe on the delivery id, store, answer.

Nothing is processed inline (GitHub gives up after 10 s); sensors read the store. The order of checks matters:
the signature is verified over the raw bytes before anything parses them, and the body is read in chunks with a
hard limit so an unauthenticated client cannot make us buffer without bound.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import traceback
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gitops_pipelines.core.github.events import is_handled, parse_event
from gitops_pipelines.core.redact import Redactor
from gitops_pipelines.core.github.webhook_store import MAX_DELIVERY_ID_LEN, MAX_EVENT_LEN, WebhookStore

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/github"
DEFAULT_MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
SIGNATURE_HEADER = "x-hub-signature-256"
_SIGNATURE_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for this body."""
    return _signature(secret.encode(), body).decode()


def _signature(key: bytes, body: bytes) -> bytes:
    return (_SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()).encode()


@dataclass(frozen=True)
class _Outcome:
    status: int
    content: dict

    def response(self) -> JSONResponse:
        return JSONResponse(self.content, status_code=self.status)


class _Rejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.outcome = _Outcome(status, {"error": message})


class _Receiver:
    def __init__(self, secret: str, store: WebhookStore, max_body: int):
        self._key = secret.encode()
        self._redact = Redactor([secret])  # in case a failure's message ever quotes it
        self._store = store
        self._max_body = max_body

    async def webhook(self, request: Request) -> JSONResponse:
        try:
            signature = request.headers.get(SIGNATURE_HEADER)
            if not signature:
                # refuse before reading a byte of an unsigned body
                raise _Rejected(401, f"missing {SIGNATURE_HEADER} header")
            body = await self._read_body(request)
            # hashing and parsing up to 25 MB is CPU work: keep it off the event loop so /healthz stays quick
            outcome = await run_in_threadpool(self._accept, dict(request.headers), signature, body)
        except _Rejected as exc:
            log.warning("webhook rejected (%s): %s", exc.outcome.status, exc)
            return exc.outcome.response()
        except ClientDisconnect:
            log.warning("webhook client disconnected before sending the whole body")
            return _Outcome(400, {"error": "incomplete request body"}).response()
        except Exception:  # noqa: BLE001 - nothing a client sends may take the receiver down
            log.error("webhook receiver failed:\n%s", self._redact(traceback.format_exc()))
            return _Outcome(500, {"error": "internal error"}).response()
        return outcome.response()

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _Rejected(400, "invalid Content-Length")
            if int(declared) > self._max_body:
                raise _Rejected(413, f"body larger than {self._max_body} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_body:  # chunked bodies declare no length: stop as soon as it is too long
                raise _Rejected(413, f"body larger than {self._max_body} bytes")
        return bytes(body)

    def _accept(self, headers: dict[str, str], signature: str, body: bytes) -> _Outcome:
        expected = _signature(self._key, body)
        # compare bytes: header values are latin-1 strings and compare_digest refuses non-ASCII str
        if not hmac.compare_digest(expected, signature.encode("latin-1")):
            raise _Rejected(401, "signature does not match")
        event = headers.get("x-github-event", "")
        delivery_id = headers.get("x-github-delivery", "")
        if not event or len(event) > MAX_EVENT_LEN or not event.isprintable():
            raise _Rejected(400, "missing or invalid X-GitHub-Event header")
        if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID_LEN or not delivery_id.isprintable():
            raise _Rejected(400, "missing or invalid X-GitHub-Delivery header")
        raw_json = _json_bytes(headers.get("content-type", ""), body)
        try:
            payload = json.loads(raw_json)
        except (ValueError, RecursionError):
            raise _Rejected(400, "body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise _Rejected(400, "body is not a JSON object")
        if not is_handled(event):
            log.info("webhook %s: event %r ignored", delivery_id, event)
            return _Outcome(202, {"ignored": True, "event": event})
        try:
            parse_event(event, payload)  # only deliveries the sensors can parse are worth storing
        except ValueError as exc:
            raise _Rejected(400, str(exc)) from None
        if not self._store.record(delivery_id, event, raw_json):
            log.info("webhook %s: duplicate delivery", delivery_id)
            return _Outcome(200, {"duplicate": True})
        log.info("webhook %s: %s stored", delivery_id, event)
        return _Outcome(202, {"stored": True, "event": event, "delivery": delivery_id})


def _json_bytes(content_type: str, body: bytes) -> bytes:
    """The JSON document: the body itself, or its `payload` field when the hook is set to form encoding."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return body
    try:
        fields = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=10)
        return fields["payload"][0].encode()
    except (ValueError, KeyError, IndexError):
        raise _Rejected(400, "form-encoded body has no payload field") from None


async def _healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    # last resort for anything outside the webhook handler; never echoes the exception
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal error"}, status_code=500)


def create_app(
    secret: str,
    store: WebhookStore,
    max_body: int = DEFAULT_MAX_BODY,
    path: str = WEBHOOK_PATH,
) -> Starlette:
    """The receiver: POST `path` for GitHub deliveries (signed with `secret`, stored in `store`), GET /healthz."""
    if not secret:
        raise ValueError("a webhook secret is required: GitHub signs every delivery with it")
    if max_body < 1:
        raise ValueError(f"max_body must be positive, got {max_body}")
    receiver = _Receiver(secret, store, max_body)
    routes = [
        Route(path, receiver.webhook, methods=["POST"]),
        Route("/healthz", _healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={Exception: _server_error})
