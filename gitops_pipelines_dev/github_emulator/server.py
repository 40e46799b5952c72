"""`Emulator`: the GitHub emulator as tests and the demo use it (a uvicorn server on a background thread)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from gitops_pipelines_dev.contract import GitHubContract
from gitops_pipelines_dev.ports import free_port

from .app import build_app
from .repo_state import RepoState
from .state import DEFAULT_LOGIN, EmulatorState
from .webhooks import Delivery


class Emulator:
    """A stateful GitHub REST API on 127.0.0.1 backed by real git; helper methods act on the default repository.
    contract: GitHub's published contract, whose webhook examples shape the payloads it sends."""

    def __init__(self, contract: GitHubContract, *, port: int | None = None, host: str = "127.0.0.1",
                 root: str | Path | None = None, login: str = DEFAULT_LOGIN, token_users: dict[str, str] | None = None,
                 rate_limit: int = 5000):
        self.contract = contract
        self.host, self.port = host, port or free_port()
        self._owned_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="github-emulator-"))
        self.state = EmulatorState(self.base_url, root=self.root, contract=contract, login=login,
                                   token_users=token_users, rate_limit=rate_limit)
        self.app = build_app(self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> str:
        """Serve in a background thread; returns the base URL to give PyGithub (`Github(base_url=...)`)."""
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning", lifespan="off",
                                access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="github-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"GitHub emulator did not start on {self.base_url}")
            time.sleep(0.01)
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = self._thread = None
        self.state.webhooks.stop()
        if self._owned_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- repositories and the people acting on them ----------------------------------------------------------
    def register_user(self, login: str, token: str | None = None) -> str:
        """A token for login (`token-for-<login>` unless given): REST calls with it act as login, e.g.
        `github.Github(base_url=emu.base_url, auth=github.Auth.Token(emu.register_user("alice")))`.
        Unregistered tokens act as the emulator's default login (the App's bot)."""
        return self.state.register_user(login, token)

    def create_repo(self, owner: str, name: str, files: dict[str, str] | None = None, *,
                    git_dir: str | Path | None = None, fork_of: str | None = None) -> RepoState:
        """A repository (bare git under the emulator's root unless git_dir is given); files: the first commit on main.
        fork_of (`owner/name`): a fork of that repository, with a copy of its git. The helpers below act on the
        first repository created."""
        return self.state.create_repo(owner, name, files, git_dir=git_dir, fork_of=fork_of)

    @property
    def repo(self) -> RepoState:
        if self.state.default_repo is None:
            raise RuntimeError("the emulator has no repository yet: call create_repo(owner, name, files) first")
        return self.state.default_repo

    @property
    def git_dir(self) -> Path:
        return self.repo.git.path

    def commit(self, branch: str, files: dict[str, str | None], message: str = "Update files", *,
               author: str | None = None) -> str:
        return self.repo.commit(branch, files, message, author=author)

    def open_pull(self, head_branch: str, title: str, body: str | None = "", base: str = "main", *,
                  user: str = "developer", draft: bool = False, head_repo: str | None = None) -> int:
        """A pull request into base from head_branch, of head_repo (`owner/name` of a fork) when given."""
        return self.repo.open_pull(head_branch, title, body, base, user=user, draft=draft, head_repo=head_repo)

    def push(self, number: int, files: dict[str, str | None], message: str = "Update files", *,
             author: str | None = None) -> str:
        return self.repo.push(number, files, message, author=author)

    def review(self, number: int, user: str, state: str = "APPROVED", commit_id: str | None = None,
               body: str = "") -> int:
        return self.repo.review(number, user, state, commit_id, body)

    def merge(self, number: int, *, user: str = "maintainer", method: str = "merge") -> str:
        return self.repo.merge(number, user=user, method=method)

    def close(self, number: int, *, user: str = "developer", reason: str | None = None) -> None:
        self.repo.close(number, user=user, reason=reason)

    def reopen(self, number: int, *, user: str = "developer") -> None:
        self.repo.reopen(number, user=user)

    def create_issue(self, title: str, body: str | None = None, *, user: str = "developer",
                     labels: list[str] | None = None) -> int:
        return self.repo.create_issue(title, body, user=user, labels=labels)

    def refresh(self) -> list[str]:
        """Pick up refs the test moved with plain git; sends push and synchronize like GitHub would."""
        return self.repo.refresh()

    # -- faults and counters ----------------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 502) -> None:
        self.state.fail_next(n, status)

    def secondary_rate_limit(self, n: int = 1, retry_after: int = 1) -> None:
        self.state.secondary_rate_limit(n, retry_after)

    @property
    def counted_requests(self) -> int:
        return self.state.counted_requests

    @property
    def exchanges(self):
        return list(self.state.exchanges)

    # -- webhooks -----------------------------------------------------------------------------------------------
    def add_webhook(self, url: str, secret: str) -> None:
        self.state.webhooks.add(url, secret)

    def wait_for_webhooks(self, timeout: float = 30.0) -> None:
        self.state.webhooks.wait(timeout)

    def deliveries(self, event: str | None = None, action: str | None = None) -> list[Delivery]:
        return self.state.webhooks.events(event, action)
