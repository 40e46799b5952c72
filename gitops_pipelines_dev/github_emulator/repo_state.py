"""One emulated repository: its git repository plus pull requests, reviews, comments, checks, releases and
deployments.

The helper methods here are the tests' way to act as people on GitHub (open a PR, push, review, merge); each one
changes git for real and sends the webhook GitHub would send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import webhook_payloads as hooks
from .git import ZERO_SHA, GitRepo
from .models import CheckRun, Comment, CommitStatus, Deployment, Issue, Label, PullRequest, Release, Review, now

if TYPE_CHECKING:
    from .state import EmulatorState

DEVELOPER = "developer"
# The labels GitHub gives every new repository (name, color, description).
DEFAULT_LABELS = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
)
NEW_LABEL_COLOR = "ededed"  # what GitHub gives a label created by naming it on an issue
CLOSE_REASONS = ("completed", "not_planned", "duplicate")


class Refused(ValueError):
    """Something GitHub itself refuses (an author approving their own pull request); the API answers 422."""


class RepoState:
    def __init__(self, state: "EmulatorState", owner: str, name: str, git: GitRepo, *, repo_id: int,
                 parent: "RepoState | None" = None):
        self.state, self.owner, self.name, self.git, self.id = state, owner, name, git, repo_id
        self.parent = parent  # the repository this one is a fork of
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
        self.latest_release_id: int | None = None  # the release `make_latest: true` chose last (see latest_release)
        self.protection: dict | None = None  # None: GET .../protection answers 404, as for an unprotected branch
        self._known_refs: dict[str, str] = {}
        self._primed = False  # the first look at git only learns the refs; it is not a push
        self._next_number = 1
        self.labels: dict[str, Label] = {}  # lower-case name -> label (GitHub matches label names case-insensitively)
        for name, color, description in DEFAULT_LABELS:
            self.create_label(name, color, description, default=True)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def head_repo(self, pr: PullRequest) -> "RepoState":
        """The repository pr's head branch is in: this one, or the fork it was opened from."""
        if not pr.head_repo:
            return self
        found = self.state.repo(*pr.head_repo.split("/", 1))
        if found is None:
            raise ValueError(f"{self.full_name}#{pr.number}: its head repository {pr.head_repo} is gone")
        return found

    def head_owner(self, pr: PullRequest) -> str:
        return pr.head_repo.split("/", 1)[0] if pr.head_repo else self.owner

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
                    if not pr.head_repo and pr.head == branch and pr.head_sha != after:
                        self._head_moved(pr, after, login)
            self._follow_forks(login)
            for other in list(self.state.repos.values()):  # pull requests opened from this repository elsewhere
                if other is not self:
                    other._follow_forks(login, source=self)
            return changed

    def _follow_forks(self, login: str, source: "RepoState | None" = None) -> None:
        """Open pull requests from forks follow their head branch there (a push to a fork sends synchronize here)."""
        for pr in self.pulls.values():
            if pr.state != "open" or not pr.head_repo:
                continue
            if source is not None and pr.head_repo.lower() != source.full_name.lower():
                continue
            tip = self._head_commit(pr)
            if tip and tip != pr.head_sha:
                self._head_moved(pr, tip, login)

    def _head_moved(self, pr: PullRequest, sha: str, login: str) -> None:
        before, pr.head_sha = pr.head_sha, sha
        self._pull_ref(pr)
        pr.issue.updated_at = now()
        self.emit("pull_request", hooks.pull_request(self, pr, "synchronize", login, before=before))

    def _head_commit(self, pr: PullRequest) -> str | None:
        """The tip of pr's head branch, its objects copied here when it is in a fork (as GitHub does)."""
        return self.fetch_head(self.head_repo(pr), pr.head)

    def fetch_head(self, source: "RepoState", branch: str) -> str | None:
        """The tip of branch in source (this repository or a fork of it); a fork's commits are copied here."""
        if source is self:
            return self.git.resolve(f"refs/heads/{branch}")
        sha = source.git.resolve(f"refs/heads/{branch}")
        if sha and self.git.resolve(sha) != sha:
            self.git.fetch_branch(source.git.path, branch)
        return sha

    def _pull_ref(self, pr: PullRequest) -> None:
        """`refs/pull/<n>/head`, which GitHub keeps at every pull request's head (a fork's too): fetchable here."""
        self.git.update_ref(f"refs/pull/{pr.number}/head", pr.head_sha)

    # -- issues and pull requests -----------------------------------------------------------------------------
    def _new_issue(self, title: str, body: str | None, user: str) -> Issue:
        issue = Issue(id=self.state.next_id(), number=self._next_number, title=title, body=body, user=user)
        self._next_number += 1
        self.issues[issue.number] = issue
        return issue

    def create_issue(self, title: str, body: str | None = None, *, user: str = DEVELOPER,
                     labels: list[str] | None = None) -> int:
        """Open an issue (labels: names; missing labels are created, as GitHub does). No webhook: the contract has
        no `issues` example to shape one from."""
        with self.state.lock:
            issue = self._new_issue(title, body, user)
            issue.labels = [self.ensure_label(name).name for name in dict.fromkeys(labels or [])]
            return issue.number

    def open_pull(self, head_branch: str, title: str, body: str | None = "", base: str = "main", *,
                  user: str = DEVELOPER, draft: bool = False, head_repo: str | None = None) -> int:
        """Open a pull request from head_branch (which must exist) into base; sends pull_request.opened.
        head_repo: `owner/name` of the fork head_branch is in (default: this repository)."""
        with self.state.lock:
            self.refresh()
            source = self._source(head_repo)
            head_sha, base_sha = self.fetch_head(source, head_branch), self.git.resolve(f"refs/heads/{base}")
            if not head_sha or not base_sha:
                where = f"{source.full_name}: branch {head_branch}" if not head_sha else f"branch {base}"
                raise ValueError(f"{self.full_name}: {where} does not exist")
            pr = PullRequest(self.state.next_id(), self._new_issue(title, body, user), head_branch, base, head_sha,
                             base_sha, draft=draft, head_repo=None if source is self else source.full_name)
            self.pulls[pr.number] = pr
            self._pull_ref(pr)
            self.emit("pull_request", hooks.pull_request(self, pr, "opened", user))
            return pr.number

    def _source(self, head_repo: str | None) -> "RepoState":
        if not head_repo or head_repo.lower() == self.full_name.lower():
            return self
        found = self.state.repo(*head_repo.split("/", 1)) if "/" in head_repo else None
        if found is None:
            raise ValueError(f"{self.full_name}: no repository {head_repo} to open a pull request from")
        return found

    def pull(self, number: int) -> PullRequest:
        if number not in self.pulls:
            raise KeyError(f"{self.full_name} has no pull request #{number}")
        return self.pulls[number]

    def push(self, number: int, files: dict[str, str | None], message: str = "Update files", *,
             author: str | None = None) -> str:
        """Commit to pull request number's head branch, in the fork it came from if so (its head SHA moves; sends
        push and synchronize)."""
        pr = self.pull(number)
        with self.state.lock:
            return self.head_repo(pr).commit(pr.head, files, message, author=author or pr.issue.user)

    def review(self, number: int, user: str, state: str = "APPROVED", commit_id: str | None = None,
               body: str = "") -> int:
        """Submit a review of commit_id (default: the current head); sends pull_request_review.submitted.
        As on GitHub the author cannot approve or request changes on their own pull request (Refused), and a
        PENDING review is only stored (not submitted: no webhook, no submitted_at)."""
        with self.state.lock:
            pr = self.pull(number)
            state = state.upper()
            if user.lower() == pr.issue.user.lower() and state in ("APPROVED", "CHANGES_REQUESTED"):
                raise Refused("Can not approve your own pull request" if state == "APPROVED"
                              else "Can not request changes on your own pull request")
            review = Review(self.state.next_id(), number, user, state, commit_id or pr.head_sha, body)
            if state == "PENDING":
                review.submitted_at = None
            self.reviews.append(review)
            if state != "PENDING":
                pr.issue.updated_at = now()  # as on GitHub: a review moves the pull request's updated_at
                self.emit("pull_request_review", hooks.review_submitted(self, pr, review))
            return review.id

    def merge(self, number: int, *, user: str = "maintainer", message: str | None = None,
              method: str = "merge") -> str:
        """Really merge the head into the base branch; sends push to the base and closed (merged).
        method: `merge` (a merge commit), `squash` (one commit with the head's changes) or `rebase` (the head's
        commits replayed on the base, committed by user); message: the whole commit message (merge and squash)."""
        with self.state.lock:
            self.refresh()
            pr = self.pull(number)
            if pr.state != "open":
                raise ValueError(f"{self.full_name}#{number} is {pr.state}; only an open pull request merges")
            person = (user, self.state.email(user))
            if method == "merge":
                source = f"{self.head_owner(pr)}/{pr.head}"
                text = message or f"Merge pull request #{number} from {source}\n\n{pr.issue.title}"
                sha = self.git.merge(pr.base, pr.head_sha, text, author=person)
            elif method == "squash":
                sha = self.git.squash(pr.base, pr.head_sha, message or f"{pr.issue.title} (#{number})", author=person)
            elif method == "rebase":
                sha = self.git.rebase(pr.base, pr.head_sha, committer=person)
            else:
                raise ValueError(f"unknown merge method {method!r}: merge, squash or rebase")
            pr.merged, pr.merged_at, pr.merged_by, pr.merge_commit_sha = True, now(), user, sha
            self._set_state(pr.issue, "closed", by=user)
            self.refresh(pusher=user)
            self.emit("pull_request", hooks.pull_request(self, pr, "closed", user))
            return sha

    def close(self, number: int, *, user: str = DEVELOPER, reason: str | None = None) -> None:
        """Close an issue or pull request (reason: completed, the default, not_planned or duplicate)."""
        with self.state.lock:
            pr = self.pulls.get(number)
            self._set_state(pr.issue if pr else self.issues[number], "closed", reason=reason, by=user)
            if pr:
                self.emit("pull_request", hooks.pull_request(self, pr, "closed", user))

    def reopen(self, number: int, *, user: str = DEVELOPER) -> None:
        with self.state.lock:
            pr = self.pulls.get(number)
            if pr and pr.merged:
                raise ValueError(f"{self.full_name}#{number} is merged and cannot be reopened")
            self._set_state(pr.issue if pr else self.issues[number], "open", reason="reopened")
            if pr:
                self.refresh()
                pr.head_sha = self._head_commit(pr) or pr.head_sha
                self._pull_ref(pr)
                self.emit("pull_request", hooks.pull_request(self, pr, "reopened", user))

    @staticmethod
    def _set_state(issue: Issue, state: str, *, reason: str | None = None, by: str | None = None) -> None:
        if state == "closed" and (reason or "completed") not in CLOSE_REASONS:
            raise ValueError(f"a closed issue's reason is one of {', '.join(CLOSE_REASONS)}, not {reason!r}")
        issue.state, issue.updated_at = state, now()
        closed = state == "closed"
        issue.closed_at = issue.updated_at if closed else None
        issue.state_reason = (reason or "completed") if closed else reason
        issue.closed_by = by if closed else None

    # -- labels -------------------------------------------------------------------------------------------------
    def create_label(self, name: str, color: str = NEW_LABEL_COLOR, description: str | None = None, *,
                     default: bool = False) -> Label:
        with self.state.lock:
            if name.lower() in self.labels:
                raise ValueError(f"{self.full_name} already has a label {name!r}")
            label = Label(self.state.next_label_id(), name, color.removeprefix("#").lower(), description, default)
            self.labels[name.lower()] = label
            return label

    def label(self, name: str) -> Label | None:
        return self.labels.get(name.lower())

    def ensure_label(self, name: str) -> Label:
        return self.label(name) or self.create_label(name)

    def set_labels(self, number: int, names: list[str], *, user: str = DEVELOPER, add: bool = False) -> list[Label]:
        """Replace (or with add=True extend) the labels of issue or pull request number; missing labels are
        created, and each label a pull request gains sends pull_request.labeled (GitHub's example shapes it)."""
        with self.state.lock:
            issue = self.issues[number]
            wanted = [self.ensure_label(name).name for name in dict.fromkeys(names)]
            before = list(issue.labels)
            issue.labels = list(dict.fromkeys([*before, *wanted])) if add else wanted
            gained = [name for name in issue.labels if name not in before]
            if issue.labels != before:
                issue.updated_at = now()
            pr = self.pulls.get(number)
            for name in gained if pr else []:
                self.emit("pull_request", hooks.labeled(self, pr, self.label(name), user))
            return [self.label(name) for name in issue.labels]

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
        self._tag(release)
        release.draft, release.published_at = False, release.published_at or now()
        self._choose_latest(release)
        self.emit("release", hooks.release(self, release, "created"))
        self.emit("release", hooks.release(self, release, "published"))

    def edit_release(self, release: Release, changes: dict) -> Release:
        """Apply an edit (`PATCH /releases/{id}`): changes holds the fields given, among tag_name, target_commitish,
        name, body, draft, prerelease and make_latest. Publishing a draft tags it and sends created/published (as
        publish_release); a published release whose tag_name changes gets that tag at target_commitish unless it
        exists. GitHub's `release.edited` is not sent: the contract has no example to shape it from."""
        with self.state.lock:
            publish = release.draft and changes.get("draft") is False
            unpublish = not release.draft and changes.get("draft") is True
            for key in ("tag_name", "target_commitish", "name", "body", "prerelease", "make_latest"):
                if key in changes:
                    setattr(release, key, changes[key])
            release.updated_at = now()
            if publish:
                self.publish_release(release)
            elif unpublish:
                release.draft, release.published_at = True, None  # its tag stays, as on GitHub
            elif not release.draft:
                self._tag(release)
                if "make_latest" in changes:
                    self._choose_latest(release)
            return release

    def _tag(self, release: Release) -> None:
        """The release's tag, created at target_commitish when missing; an existing tag (annotated or not) is kept."""
        if release.tag_name in self.git.tags():
            return
        sha = self.git.resolve(release.target_commitish)
        if not sha:
            raise ValueError(f"{self.full_name}: release target {release.target_commitish} does not exist")
        self.git.create_tag(release.tag_name, sha)

    def _choose_latest(self, release: Release) -> None:
        """`true` makes a full release the latest; `legacy` leaves the choice to dates; `false` keeps it out."""
        if release.make_latest == "true" and not release.prerelease:
            self.latest_release_id = release.id
        elif release.make_latest == "legacy" or self.latest_release_id == release.id:
            self.latest_release_id = None

    def latest_release(self) -> Release | None:
        """The release `make_latest: true` chose last while it is published and no prerelease; otherwise (GitHub's
        `legacy`) the newest published full release not marked `make_latest: false`."""
        chosen = self.releases.get(self.latest_release_id)
        if chosen and not chosen.draft and not chosen.prerelease:
            return chosen
        published = [r for r in self.releases.values() if not r.draft and not r.prerelease and r.make_latest != "false"]
        return max(published, key=lambda r: (r.published_at or "", r.id), default=None)
