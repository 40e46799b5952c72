"""GitHub errors a person can act on: which repository, what was being done, and what to do next."""

from __future__ import annotations

from gitops_pipelines.core.errors import GitopsError


class GitHubError(GitopsError):
    """GitHub answered, but refused the request (bad token, missing repository, invalid input)."""

    exit_code = 1

    def __init__(self, message: str, *, repository: str, action: str, status: int | None = None):
        self.repository, self.action, self.status = repository, action, status
        super().__init__(message)


class GitHubUnavailable(GitHubError):
    """GitHub could not be reached or kept failing (5xx, timeouts, rate limits) after every retry.

    Nothing the pipeline owns is lost: the stage that needed GitHub can be re-executed once GitHub answers again.
    """

    exit_code = 4
