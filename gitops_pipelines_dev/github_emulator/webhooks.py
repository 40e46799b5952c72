"""Webhook deliveries: every event is recorded, signed like GitHub's, and POSTed to each hook in order.

Deliveries run on one background thread so a receiver that calls back into the emulator cannot deadlock it. Like
GitHub, a delivery a hook did not accept is not retried on its own: `redeliver` is GitHub's "Redeliver" button.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import queue
import threading
import urllib.parse
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Delivery:
    event: str
    payload: dict
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    responses: dict[str, int | str] = field(default_factory=dict)  # hook url -> HTTP status or error text

    @property
    def action(self) -> str | None:
        return self.payload.get("action")


def signature(secret: str, body: bytes) -> str:
    """GitHub's X-Hub-Signature-256 value for body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookDispatcher:
    def __init__(self, timeout: float = 10.0):
        self.hooks: list[tuple[str, str]] = []
        self.deliveries: list[Delivery] = []
        self.timeout = timeout
        # a Delivery for every hook, (Delivery, urls or None) for a redelivery, an Event for wait(), None to stop
        self._queue: queue.Queue[Delivery | tuple[Delivery, frozenset[str] | None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def add(self, url: str, secret: str) -> None:
        self.hooks.append((url, secret))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="github-emulator-webhooks", daemon=True)
            self._thread.start()

    def send(self, event: str, payload: dict) -> Delivery:
        delivery = Delivery(event, payload)
        self.deliveries.append(delivery)
        if self.hooks:
            self._queue.put(delivery)
        return delivery

    def redeliver(self, delivery: Delivery, urls: Iterable[str] | None = None) -> None:
        """POST delivery again, with the same X-GitHub-Delivery id, to the hooks at urls (default: every hook)."""
        self._queue.put((delivery, frozenset(urls) if urls is not None else None))

    def redeliver_failed(self) -> list[Delivery]:
        """Redeliver each delivery to every hook that did not answer it with a 2xx; returns those redelivered.
        Call it after `wait()`: a delivery still queued has no answer yet."""
        failed = []
        for delivery in list(self.deliveries):
            urls = [url for url, answer in list(delivery.responses.items()) if not _accepted(answer)]
            if urls:
                self.redeliver(delivery, urls)
                failed.append(delivery)
        return failed

    def events(self, event: str | None = None, action: str | None = None) -> list[Delivery]:
        return [d for d in self.deliveries if (event is None or d.event == event) and (action is None or d.action == action)]

    def wait(self, timeout: float = 30.0) -> None:
        """Block until every queued delivery has been attempted."""
        done = threading.Event()
        self._queue.put(done)  # type: ignore[arg-type]
        if self._thread is not None and not done.wait(timeout):
            raise TimeoutError(f"webhook deliveries still pending after {timeout}s")

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            delivery, only = item if isinstance(item, tuple) else (item, None)
            for index, (url, secret) in enumerate(list(self.hooks), start=1):
                if only is None or url in only:
                    delivery.responses[url] = self._post(index, url, secret, delivery)

    def _post(self, hook_id: int, url: str, secret: str, delivery: Delivery) -> int | str:
        body = json.dumps(delivery.payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/emulator",
                   "X-GitHub-Event": delivery.event, "X-GitHub-Delivery": delivery.id,
                   "X-GitHub-Hook-ID": str(hook_id), "X-Hub-Signature-256": signature(secret, body)}
        # http.client keeps header names as written (urllib.request would turn X-GitHub-Event into X-github-event).
        target = urllib.parse.urlsplit(url)
        kind = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        connection = kind(target.hostname, target.port, timeout=self.timeout)
        try:
            connection.request("POST", target.path + (f"?{target.query}" if target.query else "") or "/", body, headers)
            return connection.getresponse().status
        except Exception as exc:  # a hook that is down must not stop the emulator
            return f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()


def _accepted(answer: int | str) -> bool:
    """A hook's answer GitHub counts as delivered: a 2xx status (an error text means it could not be reached)."""
    return isinstance(answer, int) and 200 <= answer < 300
