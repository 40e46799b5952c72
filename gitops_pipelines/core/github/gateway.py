"""`GitHubGateway`: everything the flow asks of GitHub, on PyGithub's Requester (token or GitHub App auth,
GitHub Enterprise base URLs, rate-limit headers), answering with frozen dataclasses from models.py."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from github import Auth, Github, GithubException

from .approvals import ApprovalDecision, decide
from .errors import GitHubError
from .models import PullRequest, RateBudget, Release, Review, Tag
from .publishing import Publishing
from .transport import Caller, RetryPolicy, _header

DEFAULT_BASE_URL = "https://api.github.com"
_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
_logger = logging.getLogger(__name__)


def _auth(token: str | None, app_id: int | str | None, private_key: str | None,
          installation_id: int | None) -> Auth.Auth:
    if app_id is not None or private_key is not None or installation_id is not None:
        if app_id is None or not private_key or installation_id is None:
            raise GitHubError("GitHub App auth needs app_id, private_key and installation_id together",
                              repository="", action="authenticating")
        return Auth.AppAuth(app_id, private_key).get_installation_auth(int(installation_id))
    if not token:
        raise GitHubError("no GitHub token: set the token environment variable (github.token_env in gitops.yaml) "
                          "or configure a GitHub App", repository="", action="authenticating")
    return Auth.Token(token)


def next_link(headers: dict[str, Any] | None) -> str | None:
    """The rel="next" URL of a paginated answer, if any."""
    match = _LINK_NEXT.search(_header(headers, "Link") or "")
    return match.group(1) if match else None


class GitHubGateway(Publishing):
    """One repository on GitHub (or GitHub Enterprise); see the methods for what the flow needs."""

    def __init__(self, repository: str, *, token: str | None = None, app_id: int | str | None = None,
                 private_key: str | None = None, installation_id: int | None = None,
                 base_url: str = DEFAULT_BASE_URL, per_page: int = 100, log: Callable[[str], None] | None = None,
                 retries: RetryPolicy | int | None = None, timeout: int = 15,
                 seconds_between_requests: float | None = 0.25, seconds_between_writes: float | None = 1.0,
                 sleep: Callable[[float], None] = time.sleep):
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository or ""):
            raise GitHubError(f"repository must be 'owner/name', not {repository!r}", repository=repository or "",
                              action="configuring")
        self.repository, self.base_url, self.per_page = repository, base_url.rstrip("/"), per_page
        self.log = log or _logger.info
        policy = retries if isinstance(retries, RetryPolicy) else RetryPolicy(
            attempts=retries if isinstance(retries, int) else RetryPolicy.attempts)
        # Retries are ours (Caller), so PyGithub's own urllib3 retry is off: one policy, one log, clear errors.
        self._gh = Github(auth=_auth(token, app_id, private_key, installation_id), base_url=self.base_url,
                          per_page=per_page, retry=None, timeout=timeout,
                          seconds_between_requests=seconds_between_requests,
                          seconds_between_writes=seconds_between_writes)
        self._req = self._gh.requester
        self._call = Caller(repository, self.base_url, policy, self.log, sleep)
        self._path = f"/repos/{repository}"
        self._check_ids: dict[tuple[str, str], int] = {}

    @classmethod
    def from_settings(cls, settings: Any, token: str | None = None, **kwargs: Any) -> "GitHubGateway":
        """From gitops.yaml's GitHubSettings (repository, api_url); the token comes from the caller (dg.EnvVar)."""
        return cls(settings.repository, token=token, base_url=settings.api_url, **kwargs)

    def close(self) -> None:
        self._gh.close()

    # -- plumbing ------------------------------------------------------------------------------------------------
    def _api(self, action: str, verb: str, path: str, *, params: dict | None = None, input: Any = None,
             headers: dict[str, str] | None = None, ok: tuple[int, ...] = ()) -> tuple[dict, Any]:
        """One request through PyGithub's Requester, with retries; path is relative to the repository or absolute."""
        url = path if path.startswith(("http://", "https://", "/repos/", "/rate_limit")) else self._path + path
        result = self._call(action, lambda: self._req.requestJsonAndCheck(verb, url, params, headers, input), ok_statuses=ok)
        remaining, limit = self._req.rate_limiting
        if limit > 0:
            low = " (LOW)" if remaining < limit // 10 else ""
            self.log(f"github {self.repository}: {action}; rate budget {remaining}/{limit}{low}")
        return result

    def request(self, action: str, verb: str, path: str, **kwargs: Any) -> tuple[dict, Any]:
        """A raw REST call with the gateway's auth, retries and rate-budget logging, for callers that need headers
        (conditional polling with If-None-Match); returns (response headers, JSON)."""
        return self._api(action, verb, path, **kwargs)

    def _paginate(self, action: str, path: str, params: dict | None = None) -> list[dict]:
        items: list[dict] = []
        url: str | None = path
        params = {**(params or {}), "per_page": self.per_page}
        while url:
            headers, data = self._api(action, "GET", url, params=params)
            items.extend(data or [])
            url, params = next_link(headers), None  # the next link carries every parameter
        return items

    # -- pull requests -------------------------------------------------------------------------------------------
    def pull(self, number: int) -> PullRequest:
        _, data = self._api(f"reading pull request #{number}", "GET", f"/pulls/{number}")
        return PullRequest.from_json(data)

    def open_pulls(self) -> list[PullRequest]:
        return [PullRequest.from_json(d) for d in self._paginate("listing open pull requests", "/pulls",
                                                                 {"state": "open"})]

    def merged_pulls(self, base: str | None = None) -> list[PullRequest]:
        """Every merged pull request (into `base`, when given), most recently updated first."""
        params = {"state": "closed", "sort": "updated", "direction": "desc", **({"base": base} if base else {})}
        pulls = [PullRequest.from_json(d) for d in self._paginate("listing closed pull requests", "/pulls", params)]
        return [p for p in pulls if p.merged and p.merge_commit_sha]

    def create_pull(self, head: str, base: str, title: str, body: str) -> int:
        """Open a pull request from branch `head` (already pushed) into `base`; its number."""
        _, data = self._api(f"opening a pull request from {head}", "POST", "/pulls",
                            input={"head": head, "base": base, "title": title, "body": body})
        return int(data["number"])

    def changed_files(self, number: int) -> list[str]:
        """Paths the pull request touches; a rename lists both the old and the new path."""
        paths: dict[str, None] = {}
        for f in self._paginate(f"listing files of pull request #{number}", f"/pulls/{number}/files"):
            for name in (f.get("previous_filename"), f.get("filename")):
                if name:
                    paths.setdefault(name, None)
        return list(paths)

    def reviews(self, number: int) -> list[Review]:
        return [Review.from_json(d) for d in self._paginate(f"listing reviews of pull request #{number}",
                                                            f"/pulls/{number}/reviews")]

    def approval(self, number: int, head_sha: str | None = None) -> ApprovalDecision:
        """Is the pull request approved at head_sha (default: its current head)? With who and why not."""
        head = head_sha or self.pull(number).head_sha
        return decide(self.reviews(number), head)

    def issue_exists(self, number: int) -> bool:
        """An open or closed issue with that number exists (a pull request is not an issue here)."""
        try:
            _, data = self._api(f"reading issue #{number}", "GET", f"/issues/{number}", ok=(404, 410))
        except GithubException as exc:
            if exc.status in (404, 410):
                return False
            raise
        return isinstance(data, dict) and not data.get("pull_request")

    # -- tags and releases (reads) -------------------------------------------------------------------------------
    def tags(self) -> list[Tag]:
        return [Tag(d["name"], d["commit"]["sha"]) for d in self._paginate("listing tags", "/tags")]

    def latest_release(self) -> Release | None:
        try:
            _, data = self._api("reading the latest release", "GET", "/releases/latest", ok=(404,))
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        return Release.from_json(data)

    def release_by_tag(self, tag: str) -> Release | None:
        try:
            _, data = self._api(f"reading release {tag}", "GET", f"/releases/tags/{tag}", ok=(404,))
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        return Release.from_json(data)

    def rate_budget(self) -> RateBudget:
        """The core rate limit now (GET /rate_limit is free on GitHub)."""
        _, data = self._api("reading the rate limit", "GET", "/rate_limit")
        core = (data.get("resources") or {}).get("core") or data.get("rate") or {}
        return RateBudget(int(core.get("remaining", -1)), int(core.get("limit", -1)), core.get("reset"))
