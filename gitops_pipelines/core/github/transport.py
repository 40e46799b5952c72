"""Retries and back-off around every GitHub call: 5xx and network errors with exponential back-off, secondary
rate limits (403/429) waited out as `Retry-After` says, and clear errors when GitHub stays away."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from github import GithubException

from .errors import GitHubError, GitHubUnavailable

T = TypeVar("T")
SECONDARY_DEFAULT_WAIT = 60.0  # GitHub: "wait at least one minute" when no Retry-After is given


@dataclass(frozen=True)
class RetryPolicy:
    """attempts: tries per call; backoff: first wait in seconds, doubled each retry up to max_backoff;
    max_rate_wait: the longest single rate-limit wait accepted before giving up with GitHubUnavailable."""

    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_rate_wait: float = 300.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff * (2 ** (attempt - 1)), self.max_backoff)


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return str(data or "").strip()[:200]


def rate_limit_wait(exc: GithubException) -> float | None:
    """Seconds to wait when exc is a rate limit (primary or secondary), else None."""
    if exc.status not in (403, 429):
        return None
    retry_after = _header(exc.headers, "Retry-After")
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after)
    message = _message(exc).lower()
    if "secondary rate limit" in message or "abuse" in message:
        return SECONDARY_DEFAULT_WAIT
    if "rate limit" in message or _header(exc.headers, "X-RateLimit-Remaining") == "0":
        reset = _header(exc.headers, "X-RateLimit-Reset")
        if reset and reset.isdigit():
            return max(float(reset) - time.time(), 0.0) + 1.0
        return SECONDARY_DEFAULT_WAIT
    return None


class Caller:
    """Runs one GitHub call with the retry policy; turns what remains into GitHubError / GitHubUnavailable."""

    def __init__(self, repository: str, base_url: str, policy: RetryPolicy, log: Callable[[str], None],
                 sleep: Callable[[float], None] = time.sleep):
        self.repository, self.base_url, self.policy, self.log, self.sleep = repository, base_url, policy, log, sleep

    def __call__(self, action: str, fn: Callable[[], T], *, ok_statuses: tuple[int, ...] = ()) -> T:
        last = ""
        for attempt in range(1, self.policy.attempts + 1):
            final = attempt == self.policy.attempts
            try:
                return fn()
            except GithubException as exc:
                if exc.status in ok_statuses:
                    raise
                wait = rate_limit_wait(exc)
                if wait is not None:
                    last = f"rate limited (HTTP {exc.status}: {_message(exc)})"
                    if wait > self.policy.max_rate_wait:
                        raise self._unavailable(action, f"{last}; the limit resets in {wait:.0f}s, longer than the "
                                                        f"{self.policy.max_rate_wait:.0f}s this pipeline waits") from exc
                    if final:
                        break
                    self.log(f"github {self.repository}: {action}: {last}; waiting {wait:.0f}s")
                    self.sleep(wait)
                    continue
                if exc.status == 429 or (exc.status is not None and exc.status >= 500):
                    last = f"HTTP {exc.status} {_message(exc)}".strip()
                else:
                    raise self._refused(action, exc) from exc
            except (requests.ConnectionError, requests.Timeout, ConnectionError) as exc:
                last = f"{type(exc).__name__}: {str(exc)[:200]}"
            if final:
                break
            delay = self.policy.delay(attempt)
            self.log(f"github {self.repository}: {action}: {last}; retry {attempt}/{self.policy.attempts - 1} "
                     f"in {delay:g}s")
            self.sleep(delay)
        raise self._unavailable(action, f"{last} after {self.policy.attempts} attempt(s)")

    def _unavailable(self, action: str, why: str) -> GitHubUnavailable:
        return GitHubUnavailable(
            f"GitHub at {self.base_url} is unavailable for {self.repository} while {action}: {why}. Nothing was "
            "lost: re-execute this step once GitHub answers again (https://www.githubstatus.com).",
            repository=self.repository, action=action)

    def _refused(self, action: str, exc: GithubException) -> GitHubError:
        hint = {401: "the token is missing, expired or revoked: check the GitHub token or App credentials",
                403: "the token lacks a permission this needs (checks: write, pull requests: write, contents: write)",
                404: "not found, or the token cannot see it: check the repository name and the token's access",
                422: "GitHub rejected the input"}.get(exc.status or 0, "GitHub refused the request")
        return GitHubError(f"GitHub refused {action} on {self.repository}: HTTP {exc.status} {_message(exc)} ({hint})",
                           repository=self.repository, action=action, status=exc.status)
