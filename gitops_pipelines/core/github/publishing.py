"""The gateway's writes (and the reads that make them safe to repeat): check runs, commit statuses, the one comment
per unit and environment, tags, releases, deployments and their statuses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from github import Auth, GithubException

from .comments import marker_key, plan_upsert, same_login
from .errors import GitHubError
from .models import Comment, Deployment, DeploymentStatus, Issue, Release

ANNOTATIONS_PER_REQUEST = 50  # GitHub's limit per create/update of a check run
OUTPUT_LIMIT = 65535  # check-run summary and text
RUN_STATUSES = ("queued", "in_progress", "completed")
DEPLOYMENT_STATES = ("queued", "in_progress", "success", "failure", "error", "inactive", "pending")
DEPLOYMENT_DESCRIPTION_LIMIT = 140  # GitHub refuses a longer deployment-status description


_WHO = "reading the login the token acts as"


def _no_login(repository: str, why: str) -> GitHubError:
    return GitHubError(f"cannot tell which login this token writes as ({why}), so the bot cannot tell its own "
                       "comments from anyone else's: give the gateway its login (gateway.login = 'name[bot]')",
                       repository=repository, action=_WHO)


def _cap(text: str | None, limit: int = OUTPUT_LIMIT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    note = "\n\n_(truncated: GitHub keeps at most 65,535 characters here)_"
    return text[: limit - len(note)] + note


class Publishing:
    """Mixed into GitHubGateway; relies on its _api, _paginate, _check_ids and repository."""

    _check_ids: dict[tuple[str, str], int]

    # -- check runs and statuses ---------------------------------------------------------------------------------
    def set_check(self, head_sha: str, name: str, status: str = "completed", conclusion: str | None = None, *,
                  title: str, summary: str, text: str | None = None, annotations: Sequence[dict] = (),
                  details_url: str | None = None, external_id: str | None = None,
                  check_run_id: int | None = None) -> int:
        """Create or update the check run `name` on head_sha; returns its id. Annotations go 50 per request."""
        if status not in RUN_STATUSES:
            raise ValueError(f"check status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        if status == "completed" and not conclusion:
            raise ValueError(f"check {name!r}: a completed check run needs a conclusion")
        annotations = list(annotations)
        batches = [annotations[i:i + ANNOTATIONS_PER_REQUEST]
                   for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)] or [[]]
        output: dict[str, Any] = {"title": title[:255] or name, "summary": _cap(summary) or title}
        if text:
            output["text"] = _cap(text)
        payload: dict[str, Any] = {"name": name, "status": status, "output": {**output, "annotations": batches[0]}}
        if conclusion and status == "completed":
            payload["conclusion"] = conclusion
        for key, value in (("details_url", details_url), ("external_id", external_id)):
            if value:
                payload[key] = value
        what = f"setting check {name!r} on {head_sha[:12]}"
        run_id = check_run_id or self._check_ids.get((head_sha, name)) or self._find_check_run(head_sha, name)
        if run_id is None:
            _, data = self._api(what, "POST", "/check-runs", input={**payload, "head_sha": head_sha})
            run_id = int(data["id"])
        else:
            self._api(what, "PATCH", f"/check-runs/{run_id}", input=payload)
        self._check_ids[(head_sha, name)] = run_id
        for batch in batches[1:]:
            self._api(f"{what} (annotations)", "PATCH", f"/check-runs/{run_id}",
                      input={"output": {**output, "annotations": batch}})
        return run_id

    def _find_check_run(self, head_sha: str, name: str) -> int | None:
        """The latest check run of that name on the commit (one made by an earlier run of this step), if any."""
        try:
            _, data = self._api(f"looking up check {name!r} on {head_sha[:12]}", "GET",
                                f"/commits/{head_sha}/check-runs", params={"check_name": name, "filter": "latest"},
                                ok=(404, 422))
        except GithubException as exc:
            if exc.status in (404, 422):  # endpoint not offered (older GHE, the emulator): make a new run
                return None
            raise
        runs = (data or {}).get("check_runs") or []
        return int(runs[0]["id"]) if runs else None

    # -- comments ------------------------------------------------------------------------------------------------
    @property
    def login(self) -> str:
        """The login the gateway writes as (`GET /user`; a GitHub App's `<slug>[bot]`), asked once and kept: the
        bot's comments are the ones by this login, never merely the ones that carry its marker."""
        found = getattr(self, "_login", None)
        if not found:
            found = self._login = self._ask_login()
        return found

    @login.setter
    def login(self, value: str) -> None:
        """For tokens that cannot read `GET /user` (e.g. Actions' GITHUB_TOKEN: `github-actions[bot]`)."""
        self._login = value

    def _ask_login(self) -> str:
        auth = getattr(self._req, "auth", None)
        if isinstance(auth, Auth.AppInstallationAuth):
            # an installation token cannot read /user (nor /app): the app's own JWT reads its slug
            app_requester = self._req.withAuth(auth._app_auth)
            _, data = self._call("reading the GitHub App's login", lambda: app_requester.requestJsonAndCheck(
                "GET", f"{self.base_url}/app"))
            slug = (data or {}).get("slug")
            login = f"{slug}[bot]" if slug else ""
        else:
            try:
                _, data = self._api(_WHO, "GET", f"{self.base_url}/user")
            except GitHubError as exc:
                if exc.status not in (401, 403, 404):
                    raise
                raise _no_login(self.repository, f"{exc}") from exc
            login = (data or {}).get("login") or ""
        if not login:
            raise _no_login(self.repository, "GitHub's answer names no login")
        return login

    def comments(self, number: int, *, everyone: bool = False) -> list[Comment]:
        """The bot's own comments on #number (everyone: all of them); a comment by someone else is never the
        bot's, whatever marker it starts with."""
        found = [Comment(int(d["id"]), d.get("body") or "", (d.get("user") or {}).get("login") or "")
                 for d in self._paginate(f"listing comments of #{number}", f"/issues/{number}/comments")]
        if everyone:
            return found
        login = self.login
        return [c for c in found if same_login(login, c.author)]

    def upsert_comment(self, number: int, marker: str, body: str) -> list[int]:
        """Keep ONE comment of the bot's (or its numbered parts, when over 65,536 characters) per marker on
        #number, edited in place; surplus parts are cleared. Returns the ids of the parts in use, in order."""
        key = marker_key(marker)
        plan = plan_upsert(self.comments(number), key, body, author=self.login)
        what = f"updating comment {key!r} on #{number}"
        for comment_id, text in plan.update:
            self._api(what, "PATCH", f"/issues/comments/{comment_id}", input={"body": text})
        created = iter(plan.create)
        ids = []
        for existing in plan.order:
            if existing is None:
                _, data = self._api(what, "POST", f"/issues/{number}/comments", input={"body": next(created)})
                existing = int(data["id"])
            ids.append(existing)
        return ids

    # -- issues --------------------------------------------------------------------------------------------------
    def bot_issues(self, label: str) -> list[Issue]:
        """The open issues with `label` that the bot opened (pull requests, which the list includes, left out)."""
        found = self._paginate(f"listing open issues labelled {label}", "/issues",
                               {"state": "open", "labels": label})
        login = self.login
        return [Issue.from_json(d) for d in found if not d.get("pull_request")
                and same_login(login, (d.get("user") or {}).get("login") or "")]

    def open_issue(self, title: str, body: str, labels: list[str]) -> int:
        _, data = self._api(f"opening the issue {title!r}", "POST", "/issues",
                            input={"title": title, "body": body, "labels": labels})
        return int(data["number"])

    def edit_issue(self, number: int, *, body: str | None = None, state: str | None = None,
                   state_reason: str | None = None) -> None:
        changes = {k: v for k, v in {"body": body, "state": state, "state_reason": state_reason}.items()
                   if v is not None}
        self._api(f"editing issue #{number}", "PATCH", f"/issues/{number}", input=changes)

    def comment(self, number: int, body: str) -> int:
        _, data = self._api(f"commenting on #{number}", "POST", f"/issues/{number}/comments", input={"body": body})
        return int(data["id"])

    # -- tags and releases (writes) ------------------------------------------------------------------------------
    def create_tag(self, name: str, sha: str, *, points_at: str | None = None) -> None:
        """A tag ref at sha (a commit, or a tag object pointing at the commit `points_at`); succeeds quietly when
        the same tag already points there."""
        try:
            self._api(f"creating tag {name}", "POST", "/git/refs", input={"ref": f"refs/tags/{name}", "sha": sha},
                      ok=(422,))
        except GithubException as exc:
            if exc.status != 422:
                raise
            if points_at is not None and any(t.name == name and t.sha == points_at for t in self.tags()):
                return
            _, data = self._api(f"reading tag {name}", "GET", f"/git/ref/tags/{name}")
            if (data.get("object") or {}).get("sha") != sha:
                raise GitHubError(f"tag {name} already exists at {(data.get('object') or {}).get('sha', '?')[:12]}, "
                                  f"not at {sha[:12]}: choose the next version", repository=self.repository,
                                  action=f"creating tag {name}", status=422) from exc

    def create_annotated_tag(self, name: str, sha: str, message: str) -> None:
        """An annotated tag (a tag object with its message, then its ref) at sha. Refused, with nothing moved, when
        the tag exists at another commit; succeeds quietly when it already points at sha."""
        existing = next((t for t in self.tags() if t.name == name), None)
        if existing is not None:
            if existing.sha != sha:
                raise GitHubError(f"tag {name} already exists at {existing.sha[:12]}, not at {sha[:12]}; nothing was "
                                  "moved. Find out who made it: delete it if it is wrong, or release the next version",
                                  repository=self.repository, action=f"creating tag {name}", status=422)
            return
        _, tag = self._api(f"creating the tag object {name}", "POST", "/git/tags", input={
            "tag": name, "message": message, "object": sha, "type": "commit"})
        self.create_tag(name, tag["sha"], points_at=sha)

    def update_release(self, release_id: int, body: str) -> Release:
        _, data = self._api(f"updating release {release_id}", "PATCH", f"/releases/{release_id}",
                            input={"body": body})
        return Release.from_json(data)

    def create_release(self, tag: str, name: str, body: str, sha: str, *, prerelease: bool = False) -> Release:
        """A published release of tag (created at sha if missing); returns the existing one if already there."""
        payload = {"tag_name": tag, "name": name, "body": body, "target_commitish": sha, "prerelease": prerelease}
        try:
            _, data = self._api(f"creating release {tag}", "POST", "/releases", input=payload, ok=(422,))
        except GithubException as exc:
            if exc.status != 422:
                raise
            _, data = self._api(f"reading release {tag}", "GET", f"/releases/tags/{tag}")
        return Release.from_json(data)

    # -- deployments ---------------------------------------------------------------------------------------------
    def create_deployment(self, sha: str, environment: str, *, description: str = "", payload: dict | None = None,
                          production: bool = False, transient: bool = False) -> int:
        """A deployment of commit sha to environment (task `deploy`); returns its id. The pipeline's own promotion
        gate decides what may be applied, so GitHub's commit-status verification and auto-merge are turned off."""
        body = {"ref": sha, "task": "deploy", "auto_merge": False, "required_contexts": [], "payload": payload or {},
                "environment": environment, "description": description, "transient_environment": transient,
                "production_environment": production}
        what = f"creating a deployment of {sha[:12]} to {environment!r}"
        _, data = self._api(what, "POST", "/deployments", input=body)
        if not isinstance(data, dict) or "id" not in data:  # 202: GitHub merged a branch instead (auto_merge)
            raise GitHubError(f"GitHub did not create the deployment while {what} on {self.repository}: "
                              f"{(data or {}).get('message', 'no deployment in the answer')}",
                              repository=self.repository, action=what)
        return int(data["id"])

    def set_deployment_status(self, deployment_id: int, state: str, *, description: str = "",
                              log_url: str | None = None, environment_url: str | None = None) -> int:
        """Add a status to the deployment (its latest one is what GitHub shows); returns the status id. The
        description is cut to GitHub's 140 characters."""
        if state not in DEPLOYMENT_STATES:
            raise ValueError(f"deployment state must be one of {', '.join(DEPLOYMENT_STATES)}, not {state!r}")
        if len(description) > DEPLOYMENT_DESCRIPTION_LIMIT:
            description = description[:DEPLOYMENT_DESCRIPTION_LIMIT - 1] + "\u2026"
        body: dict[str, Any] = {"state": state, "description": description}
        for key, value in (("log_url", log_url), ("environment_url", environment_url)):
            if value:
                body[key] = value
        _, data = self._api(f"setting deployment {deployment_id} to {state}", "POST",
                            f"/deployments/{deployment_id}/statuses", input=body)
        return int(data["id"])

    def deployment_statuses(self, deployment_id: int) -> list[DeploymentStatus]:
        """Every status of the deployment, oldest first (GitHub lists the newest first)."""
        found = [DeploymentStatus.from_json(d) for d in self._paginate(
            f"listing statuses of deployment {deployment_id}", f"/deployments/{deployment_id}/statuses")]
        return sorted(found, key=lambda st: st.id)

    def deployments(self, environment: str | None = None, sha: str | None = None, *,
                    with_statuses: bool = False) -> list[Deployment]:
        """Deployments, newest first, of environment and/or commit sha (None: any); with_statuses reads each one's
        statuses too (one more request per deployment)."""
        params = {name: value for name, value in (("environment", environment), ("sha", sha)) if value}
        what = "listing deployments" + (f" to {environment!r}" if environment else "") + (
            f" of {sha[:12]}" if sha else "")
        found = [Deployment.from_json(d) for d in self._paginate(what, "/deployments", params)]
        if with_statuses:
            found = [replace(d, statuses=tuple(self.deployment_statuses(d.id))) for d in found]
        return sorted(found, key=lambda d: d.id, reverse=True)

    # provided by GitHubGateway
    repository: str
    base_url: str
    _req: Any
    _call: Any

    def _api(self, *args: Any, **kwargs: Any) -> tuple[dict, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _paginate(self, *args: Any, **kwargs: Any) -> list[dict]:  # pragma: no cover - overridden
        raise NotImplementedError
