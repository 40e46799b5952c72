"""The emulator's whole state: repositories, users, ids, the rate limit, injected faults, recorded exchanges."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .git import GitRepo
from .repo_state import RepoState
from .webhooks import WebhookDispatcher

if TYPE_CHECKING:
    from gitops_pipelines_dev.contract import GitHubContract

DEFAULT_LOGIN = "gitops-pipelines[bot]"


@dataclass
class Exchange:
    """One request and the emulator's answer, kept so tests can check every answer against the OpenAPI contract."""

    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes
    route: str | None = None  # the matched path template, e.g. /repos/{owner}/{repo}/pulls/{pull_number}


@dataclass
class RateLimit:
    limit: int = 5000
    used: int = 0
    reset: int = field(default_factory=lambda: int(time.time()) + 3600)

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def roll(self) -> None:
        if time.time() >= self.reset:
            self.used, self.reset = 0, int(time.time()) + 3600

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset), "X-RateLimit-Used": str(self.used),
                "X-RateLimit-Resource": "core"}


class EmulatorState:
    """Everything the HTTP routes read and the test helpers change, guarded by one re-entrant lock."""

    def __init__(self, base_url: str, *, root: str | Path, contract: "GitHubContract", login: str = DEFAULT_LOGIN,
                 token_users: dict[str, str] | None = None, rate_limit: int = 5000, record: int = 20000):
        self.base_url = base_url.rstrip("/")
        self.contract = contract  # the real webhook examples fix the shape of every payload we send
        self.root = Path(root)
        self.lock = threading.RLock()
        self.login = login
        self.token_users = dict(token_users or {})
        self.rate = RateLimit(limit=rate_limit)
        self.counted_requests = 0
        self.requests = 0
        self.repos: dict[str, RepoState] = {}
        self.default_repo: RepoState | None = None
        self.users: dict[str, int] = {}
        self._ids = itertools.count(1001)
        self._label_ids = itertools.count(208_045_946)  # apart from the other ids, so seeding labels shifts none
        self._faults: deque[tuple[int, dict[str, str], str]] = deque()
        self.exchanges: deque[Exchange] = deque(maxlen=record)
        self.webhooks = WebhookDispatcher()

    # -- identities ------------------------------------------------------------------------------------------
    def next_id(self) -> int:
        return next(self._ids)

    def user_id(self, login: str) -> int:
        with self.lock:
            return self.users.setdefault(login, 5000 + len(self.users) + 1)

    def email(self, login: str) -> str:
        return f"{self.user_id(login)}+{login}@users.noreply.github.com"

    def next_label_id(self) -> int:
        return next(self._label_ids)

    def login_for_token(self, token: str) -> str:
        """The user a token authenticates; a token nobody registered acts as the default login (the App's bot)."""
        return self.token_users.get(token, self.login)

    def register_user(self, login: str, token: str | None = None) -> str:
        """Give login a token (token, or `token-for-<login>`): requests with it act as login. Returns the token."""
        token = token or f"token-for-{login}"
        with self.lock:
            owner = self.token_users.get(token)
            if owner not in (None, login):
                raise ValueError(f"token {token!r} already belongs to {owner}")
            self.token_users[token] = login
            self.user_id(login)  # a known user: commits whose author name is login link to the account
        return token

    # -- repositories ----------------------------------------------------------------------------------------
    def create_repo(self, owner: str, name: str, files: dict[str, str] | None = None, *,
                    git_dir: str | Path | None = None, author: str | None = None,
                    fork_of: str | None = None) -> RepoState:
        """A repository backed by git at git_dir (created bare if missing); files become the first commit on main.
        fork_of (`owner/name` of a repository here): a fork, whose git is a copy of that repository's (its own
        objects, nothing shared), as GitHub makes it. The first repository is the one the Emulator's helpers use."""
        with self.lock:
            path = Path(git_dir) if git_dir else self.root / f"{owner}__{name}.git"
            parent = None
            if fork_of:
                parent = self.repo(*fork_of.split("/", 1))
                if parent is None:
                    raise ValueError(f"cannot fork {fork_of}: the emulator has no such repository")
                git = GitRepo.clone_bare(parent.git.path, path)
            elif (path / "HEAD").exists() or (path / ".git").exists():
                git = GitRepo(path)
            else:
                git = GitRepo.init_bare(path)
            repo = RepoState(self, owner, name, git, repo_id=self.next_id(), parent=parent)
            self.repos[repo.full_name.lower()] = repo
            self.default_repo = self.default_repo or repo
            if files and not git.resolve("refs/heads/main"):
                repo.commit("main", files, "Initial commit", author=author)
            repo.refresh()
            return repo

    def repo(self, owner: str, name: str) -> RepoState | None:
        return self.repos.get(f"{owner}/{name}".lower())

    # -- faults, for testing a client's retries ---------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 502) -> None:
        with self.lock:
            self._faults.extend([(status, {}, "Server Error")] * n)

    def secondary_rate_limit(self, n: int = 1, retry_after: int = 1) -> None:
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        with self.lock:
            self._faults.extend([(403, {"Retry-After": str(retry_after)}, message)] * n)

    def take_fault(self) -> tuple[int, dict[str, str], str] | None:
        with self.lock:
            return self._faults.popleft() if self._faults else None
