"""One emulated repository: its git repository plus pull requests, reviews, comments, checks, releases and
deployments.

The helper methods here are the tests' way to act as people on GitHub (open a PR, push, review, merge); each one
changes git for real and sends the webhook GitHub would send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import webhook_payloads as hooks
from .git import ZERO_SHA, GitRepo
from .models import CheckRun, Comment, CommitStatus, Deployment, Issue, PullRequest, Release, Review, now

if TYPE_CHECKING:
    from .state import EmulatorState

DEVELOPER = "developer"


class RepoState:
    def __init__(self, state: "EmulatorState", owner: str, name: str, git: GitRepo, *, repo_id: int):
        self.state, self.owner, self.name, self.git, self.id = state, owner, name, git, repo_id
        self.created_at = self.pushed_at = self.updated_at = now()
        self.default_branch = "main"
        self.issues: dict[int, Issue] = {}
        self.pulls: dict[int, PullRequest] = {}
        self.reviews: list[Review] = []
        self.comments: dict[int, Comment] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.statuses: list[CommitStatus] = []
        self.releases: dict[int, Release] = {}
        self.deployments: dict[int, Deployment] = {}
        self.protection: dict | None = None  # None: GET .../protection answers 404, as for an unprotected branch
        self._known_refs: dict[str, str] = {}
        self._primed = False  # the first look at git only learns the refs; it is not a push
        self._next_number = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def emit(self, event: str, payload: dict) -> None:
        self.state.webhooks.send(event, payload)

    # -- git -------------------------------------------------------------------------------------------------
    def commit(self, branch: str, files: dict[str, str | None], message: str = "Update files", *,
               author: str | None = None) -> str:
        """Commit files on branch (None deletes a file; a new branch starts from main) and send push/synchronize."""
        login = author or DEVELOPER
        with self.state.lock:
            parent = None if self.git.resolve(f"refs/heads/{branch}") else self.git.resolve(f"refs/heads/{self.default_branch}")
            sha = self.git.commit_files(branch, files, message, parent=parent, author=(login, self.state.email(login)))
            self.refresh(pusher=login)
            return sha

    def refresh(self, pusher: str | None = None) -> list[str]:
        """Notice refs moved by git (ours or the test's): send push, update open PRs, send synchronize."""
        with self.state.lock:
            current = self.git.refs("refs/heads/")
            first, self._primed = not self._primed, True
            changed = [ref for ref in set(current) | set(self._known_refs) if current.get(ref) != self._known_refs.get(ref)]
            before_all, self._known_refs = self._known_refs, current
            if first:
                return []
            login = pusher or DEVELOPER
            for ref in sorted(changed):
                before, after = before_all.get(ref, ZERO_SHA), current.get(ref, ZERO_SHA)
                self.pushed_at = now()
                self.emit("push", hooks.push(self, ref, before, after, login))
                branch = ref.removeprefix("refs/heads/")
                for pr in self.pulls.values():
                    if pr.state != "open" or after == ZERO_SHA:
                        continue
                    if pr.base == branch:
                        pr.base_sha = after
                    if pr.head == branch and pr.head_sha != after:
                        pr.head_sha = after
                        pr.issue.updated_at = now()
                        self.emit("pull_request", hooks.pull_request(self, pr, "synchronize", login, before=before))
            return changed

    # -- issues and pull requests -----------------------------------------------------------------------------
    def _new_issue(self, title: str, body: str | None, user: str) -> Issue:
        issue = Issue(id=self.state.next_id(), number=self._next_number, title=title, body=body, user=user)
        self._next_number += 1
        self.issues[issue.number] = issue
        return issue

    def create_issue(self, title: str, body: str | None = None, *, user: str = DEVELOPER) -> int:
        with self.state.lock:
            return self._new_issue(title, body, user).number

    def open_pull(self, head_branch: str, title: str, body: str | None = "", base: str = "main", *,
                  user: str = DEVELOPER, draft: bool = False) -> int:
        """Open a pull request from head_branch (which must exist) into base; sends pull_request.opened."""
        with self.state.lock:
            self.refresh()
            head_sha, base_sha = self.git.resolve(f"refs/heads/{head_branch}"), self.git.resolve(f"refs/heads/{base}")
            if not head_sha or not base_sha:
                raise ValueError(f"{self.full_name}: branch {head_branch if not head_sha else base} does not exist")
            pr = PullRequest(self.state.next_id(), self._new_issue(title, body, user), head_branch, base, head_sha,
                             base_sha, draft=draft)
            self.pulls[pr.number] = pr
            self.emit("pull_request", hooks.pull_request(self, pr, "opened", user))
            return pr.number

    def pull(self, number: int) -> PullRequest:
        if number not in self.pulls:
            raise KeyError(f"{self.full_name} has no pull request #{number}")
        return self.pulls[number]

    def push(self, number: int, files: dict[str, str | None], message: str = "Update files", *,
             author: str | None = None) -> str:
        """Commit to pull request number's head branch (its head SHA moves; sends push and synchronize)."""
        return self.commit(self.pull(number).head, files, message, author=author or self.pull(number).issue.user)

    def review(self, number: int, user: str, state: str = "APPROVED", commit_id: str | None = None,
               body: str = "") -> int:
        """Submit a review of commit_id (default: the current head); sends pull_request_review.submitted."""
        with self.state.lock:
            pr = self.pull(number)
            review = Review(self.state.next_id(), number, user, state.upper(), commit_id or pr.head_sha, body)
            self.reviews.append(review)
            pr.issue.updated_at = now()  # as on GitHub: a review moves the pull request's updated_at
            self.emit("pull_request_review", hooks.review_submitted(self, pr, review))
            return review.id

    def merge(self, number: int, *, user: str = "maintainer", message: str | None = None) -> str:
        """Really merge the head into the base branch (a merge commit); sends push to the base and closed (merged)."""
        with self.state.lock:
            self.refresh()
            pr = self.pull(number)
            if pr.state != "open":
                raise ValueError(f"{self.full_name}#{number} is {pr.state}; only an open pull request merges")
            text = message or f"Merge pull request #{number} from {self.owner}/{pr.head}\n\n{pr.issue.title}"
            sha = self.git.merge(pr.base, pr.head_sha, text, author=(user, self.state.email(user)))
            pr.merged, pr.merged_at, pr.merged_by, pr.merge_commit_sha = True, now(), user, sha
            self._set_state(pr.issue, "closed")
            self.refresh(pusher=user)
            self.emit("pull_request", hooks.pull_request(self, pr, "closed", user))
            return sha

    def close(self, number: int, *, user: str = DEVELOPER) -> None:
        with self.state.lock:
            pr = self.pulls.get(number)
            self._set_state(pr.issue if pr else self.issues[number], "closed")
            if pr:
                self.emit("pull_request", hooks.pull_request(self, pr, "closed", user))

    def reopen(self, number: int, *, user: str = DEVELOPER) -> None:
        with self.state.lock:
            pr = self.pulls.get(number)
            if pr and pr.merged:
                raise ValueError(f"{self.full_name}#{number} is merged and cannot be reopened")
            self._set_state(pr.issue if pr else self.issues[number], "open")
            if pr:
                self.refresh()
                pr.head_sha = self.git.resolve(f"refs/heads/{pr.head}") or pr.head_sha
                self.emit("pull_request", hooks.pull_request(self, pr, "reopened", user))

    @staticmethod
    def _set_state(issue: Issue, state: str) -> None:
        issue.state, issue.updated_at = state, now()
        issue.closed_at = issue.updated_at if state == "closed" else None

    # -- things the API creates -------------------------------------------------------------------------------
    def add_comment(self, number: int, body: str, user: str) -> Comment:
        comment = Comment(self.state.next_id(), number, user, body)
        self.comments[comment.id] = comment
        self.issues[number].updated_at = comment.created_at
        return comment

    def comments_on(self, number: int) -> list[Comment]:
        return [c for c in self.comments.values() if c.issue_number == number]

    def reviews_of(self, number: int) -> list[Review]:
        return [r for r in self.reviews if r.pull_number == number]

    def add_release(self, release: Release) -> Release:
        """Store a release; a published one gets its tag (created at target_commitish) and release webhooks."""
        self.releases[release.id] = release
        if not release.draft:
            self.publish_release(release)
        return release

    def publish_release(self, release: Release) -> None:
        if release.tag_name not in self.git.tags():
            sha = self.git.resolve(release.target_commitish)
            if not sha:
                raise ValueError(f"{self.full_name}: release target {release.target_commitish} does not exist")
            self.git.create_tag(release.tag_name, sha)
        release.draft, release.published_at = False, release.published_at or now()
        self.emit("release", hooks.release(self, release, "created"))
        self.emit("release", hooks.release(self, release, "published"))

    def latest_release(self) -> Release | None:
        published = [r for r in self.releases.values() if not r.draft and not r.prerelease]
        return max(published, key=lambda r: (r.published_at or "", r.id), default=None)
