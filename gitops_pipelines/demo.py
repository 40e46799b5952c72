"""`gitops-pipelines demo pr|module|approve|merge|drift`: act on the demo `make run` started, as its people.

`pr` opens a pull request with a linked issue in the projects repository (as developer), `module` one to the bucket
module in the modules repository, `approve [N] [--repo modules]` approves its head (as alice), `merge [N]` merges it
(as the maintainer), `drift` changes the storage bucket in the test cloud behind Terraform's back. Each prints what
to look at. They find the GitHub API (the project's emulator, in `make run`), the tokens and the test cloud in the
state file `make run` writes (./.run/demo.json, or --state / $GITOPS_DEMO_STATE); nothing else of the demo is
shipped: the emulator and the sample stay in the project's checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote


STATE_ENV = "GITOPS_DEMO_STATE"
STATE_FILE = Path(".run") / "demo.json"  # under the checkout `make run` runs in
MODULES_REPOSITORY = "acme/modules"  # the demo's modules repository
AUTHOR, REVIEWER, MERGER = "developer", "alice", "maintainer"
DRIFT_BUCKET = "acme-test-artifacts"  # the storage project's bucket in test (module "artifacts")
DRIFT_TAGS = {"team": "data", "changed-by": "console"}  # what someone changes by hand
REPORTS = """module "reports_{n}" {{
  # the module's release, pinned as projects/storage pins it: the module_refs check refuses a local path
  source = "git::{modules}//modules/bucket?ref=bucket/v0.1.0"

  name = "${{local.prefix}}-reports-{n}"
  tags = {{ environment = var.environment }}
}}
"""

Out = Callable[[str], None]


class DemoError(Exception):
    """Something the person running the demo can fix; the message says how."""


@dataclass(frozen=True)
class DemoState:
    """Where the running demo is: the emulator's API and git, each person's token, Dagster, the test cloud."""

    api_url: str
    repository: str
    git_dir: str
    tokens: dict[str, str]
    dagster_url: str | None
    test_cloud: dict[str, str]  # endpoint_url, region_name, aws_access_key_id, aws_secret_access_key
    modules_repository: str = MODULES_REPOSITORY  # where the bucket module is released from
    modules_git_dir: str = ""  # "": the same repository (one repository holding everything)

    def save(self, path: Path) -> None:
        """Readable by its owner only: it holds the demo people's tokens."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(self), f, indent=2)

    @classmethod
    def load(cls, path: Path) -> "DemoState":
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise DemoError(f"no demo is running ({path} is missing): start it with `make run` and wait until it "
                            "prints the services' addresses") from None
        except (ValueError, TypeError) as exc:
            raise DemoError(f"{path} is not a demo state file ({exc}): restart `make run`") from None

    def page(self, number: int, repository: str | None = None) -> str:
        return f"{self.api_url}/ui/{repository or self.repository}/pull/{number}"

    def runs(self, number: int, repository: str | None = None) -> str:
        """The Runs page filtered to one pull request of one repository (numbers repeat across repositories)."""
        if not self.dagster_url:
            return "the Dagster UI's Runs page"
        tags = [f"tag:gitops/pr={number}", f"tag:gitops/repository={repository or self.repository}"]
        return f"{self.dagster_url}/runs?" + "&".join(f"q%5B%5D={quote(t, safe='')}" for t in tags)

    def named(self, which: str | None) -> str:
        """`--repo`: projects (the default), modules, or owner/name."""
        if which in (None, "projects"):
            return self.repository
        if which == "modules":
            return self.modules_repository
        if which in (self.repository, self.modules_repository):
            return which
        raise DemoError(f"no repository {which!r} in this demo: name projects ({self.repository}) or modules "
                        f"({self.modules_repository})")


def _repo(state: DemoState, login: str, repository: str | None = None):
    import github

    token = state.tokens.get(login)
    if not token:
        raise DemoError(f"the demo state has no token for {login}: restart `make run`")
    client = github.Github(base_url=state.api_url, auth=github.Auth.Token(token), retry=None)
    return client.get_repo(repository or state.repository)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def push_branch(git_dir: str, branch: str, files: dict[str, str], message: str, author: str) -> None:
    """Commit files on a new branch off main and push it, as a developer pushes to GitHub before opening a PR."""
    with tempfile.TemporaryDirectory(prefix="demo-pr-") as tmp:
        work = Path(tmp) / "infra"
        _git("clone", "-q", "--branch", "main", git_dir, str(work), cwd=Path(tmp))
        for name, text in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
        _git("add", *files, cwd=work)
        _git("-c", f"user.name={author}", "-c", f"user.email={author}@users.noreply.github.com",
             "commit", "-q", "-m", message, cwd=work)
        _git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)


def open_pull_request(state: DemoState, out: Out = print) -> int:
    """An issue, a branch adding a bucket to projects/storage, and a pull request that fixes the issue."""
    repo = _repo(state, AUTHOR)
    issue = repo.create_issue(title="Reports need a bucket of their own",
                              body="The nightly reports land in the artifacts bucket; give them their own.")
    n = issue.number
    branch = f"demo/reports-{n}"
    push_branch(state.git_dir, branch, {f"projects/storage/reports_{n}.tf": REPORTS.format(
                    n=n, modules=f"https://github.com/{state.modules_repository}.git")},
                f"Add a reports bucket (#{n})", AUTHOR)
    pull = repo.create_pull(base="main", head=branch, title=f"Add a reports bucket (#{n})",
                            body=f"Fixes #{n}\n\nA bucket for the nightly reports, in test and prod.")
    out(f"{AUTHOR} opened pull request #{pull.number} ({branch}, head {pull.head.sha[:7]}), which fixes issue #{n}.\n"
        f"  its page:    {state.page(pull.number)}   (check runs and the plan comment appear there)\n"
        f"  its runs:    {state.runs(pull.number)}   (the PR checks start within a minute)\n"
        f"Next: gitops-pipelines demo approve {pull.number}")
    return pull.number


MODULE_CHANGE = ("  tags          = merge(var.tags, { managed_by = \"gitops-pipelines\" })\n",
                 "  tags          = merge(var.tags, { managed_by = \"gitops-pipelines\", module = \"bucket\" })\n")


def open_module_pull_request(state: DemoState, out: Out = print) -> int:
    """An issue and a `fix:` pull request in the modules repository: merged, it releases the module's next patch
    version by itself, and the release opens a bump pull request in the projects repository for each project."""
    repo = _repo(state, AUTHOR, state.modules_repository)
    issue = repo.create_issue(title="Buckets should say which module made them",
                              body="Tag every bucket the module makes with `module = bucket`.")
    branch = f"demo/module-tag-{issue.number}"
    git_dir = state.modules_git_dir or state.git_dir
    text = subprocess.run(["git", "show", "main:modules/bucket/main.tf"], cwd=git_dir, capture_output=True,
                          text=True, check=True).stdout
    if MODULE_CHANGE[0] not in text:
        raise DemoError("modules/bucket/main.tf on main is not the sample's any more: change it by hand")
    push_branch(git_dir, branch,
                {"modules/bucket/main.tf": text.replace(*MODULE_CHANGE)}, f"fix: tag buckets with their module "
                f"(#{issue.number})", AUTHOR)
    pull = repo.create_pull(base="main", head=branch, title="fix: tag buckets with their module",
                            body=f"Fixes #{issue.number}")
    which = "" if state.modules_repository == state.repository else " --repo modules"
    out(f"{AUTHOR} opened pull request {state.modules_repository}#{pull.number} ({branch}), which fixes issue "
        f"#{issue.number}.\n"
        f"  its page:    {state.page(pull.number, state.modules_repository)}   (syntax and the sandbox test run "
        f"there)\n"
        f"Next: approve and merge it; the release makes the next patch tag and a GitHub Release, then opens a bump\n"
        f"      pull request per project in {state.repository}:\n"
        f"  gitops-pipelines demo approve {pull.number}{which}\n"
        f"  gitops-pipelines demo merge {pull.number}{which}")
    return pull.number


def _pull(repo, number: int | None):
    if number is not None:
        return repo.get_pull(number)
    pulls = sorted(repo.get_pulls(state="open"), key=lambda p: p.number)
    if not pulls:
        raise DemoError("no pull request is open: open one with `gitops-pipelines demo pr`")
    return pulls[-1]


def approve(state: DemoState, number: int | None = None, out: Out = print, repository: str | None = None) -> str:
    """alice approves the pull request's current head (default: the newest open one); returns that head."""
    repository = repository or state.repository
    repo = _repo(state, REVIEWER, repository)
    pull = _pull(repo, number)
    if pull.state != "open":
        raise DemoError(f"#{pull.number} is {pull.state}: only an open pull request can be approved")
    head = pull.head.sha
    pull.create_review(commit=repo.get_commit(head), body="Plan looks right.", event="APPROVE")
    out(f"{REVIEWER} approved #{pull.number} at its head {head[:7]} (a push after this needs a new approval).\n"
        f"  its page:    {state.page(pull.number, repository)}\n"
        f"  in Dagster:  the approval is recorded on the change's assets; the prod deploy counts approvals of the "
        f"merged head\nNext: gitops-pipelines demo merge {pull.number}")
    return head


def merge(state: DemoState, number: int | None = None, out: Out = print, repository: str | None = None) -> str:
    """The maintainer merges the pull request (default: the newest open one); returns the merge commit."""
    repository = repository or state.repository
    repo = _repo(state, MERGER, repository)
    pull = _pull(repo, number)
    if pull.merged:
        raise DemoError(f"#{pull.number} is already merged")
    if pull.state != "open":
        raise DemoError(f"#{pull.number} is closed: reopen it on its page first")
    result = pull.merge(merge_method="merge")
    if not result.merged:
        raise DemoError(f"#{pull.number} did not merge: {result.message}")
    out(f"{MERGER} merged {repository}#{pull.number} into main as {result.sha[:7]}.\n"
        f"  its page:    {state.page(pull.number, repository)}   (deployments or the Release appear there)\n"
        f"  its runs:    {state.runs(pull.number, repository)}\n"
        f"               (the merge run deploys the test plan and plans prod, or releases a module, once the PR\n"
        f"               checks at the merged head have finished)\n"
        "Next: launch release and prod_deploy from the asset graph, or `gitops-pipelines demo drift`")
    return result.sha


def drift(state: DemoState, out: Out = print) -> dict[str, str]:
    """Change the storage bucket's tags in the test cloud out of band; returns the tags it now has."""
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", **state.test_cloud)
    try:
        before = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=DRIFT_BUCKET)["TagSet"]}
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "404"):
            raise DemoError(f"{DRIFT_BUCKET} is not in the test cloud yet: merge a pull request first (`demo merge`) "
                            "so the merge run deploys storage to test") from None
        if code != "NoSuchTagSet":
            raise
        before = {}
    after = {**before, **DRIFT_TAGS}
    s3.put_bucket_tagging(Bucket=DRIFT_BUCKET, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in after.items()]})
    changed = ", ".join(f"{k}: {before.get(k, '(none)')} -> {v}" for k, v in DRIFT_TAGS.items())
    asset = f"{state.dagster_url}/assets/storage/drift" if state.dagster_url else "the asset storage/drift"
    out(f"Changed the tags of s3://{DRIFT_BUCKET} in test by hand ({changed}).\n"
        f"  in Dagster:  materialize {asset} (or wait for its schedule): its no_drift_test check fails and a\n"
        "               drift issue opens on GitHub; the next deploy of storage to test puts the tags back")
    return after


def default_state() -> Path:
    """$GITOPS_DEMO_STATE, else .run/demo.json here, else in the checkout this package runs from (`make run`'s)."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    here, checkout = Path.cwd() / STATE_FILE, Path(__file__).resolve().parents[1] / STATE_FILE
    return here if here.is_file() or not checkout.is_file() else checkout


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gitops-pipelines demo", description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, default=None, help=f"the demo's state file (default: ${STATE_ENV}, "
                                                                   f"else {STATE_FILE} here or in the checkout)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("pr", help="open a pull request with a linked issue in the projects repository, as developer")
    sub.add_parser("module", help="open a fix pull request to the bucket module in the modules repository")
    for name, who in (("approve", REVIEWER), ("merge", MERGER)):
        p = sub.add_parser(name, help=f"{name} a pull request as {who}")
        p.add_argument("number", type=int, nargs="?", help="the pull request (default: the newest open one)")
        p.add_argument("--repo", default=None, help="projects (default), modules, or owner/name")
    sub.add_parser("drift", help="change the storage bucket's tags in the test cloud out of band")
    return parser


def main(argv: list[str] | None = None, out: Out = print) -> int:
    import github
    import requests

    args = _parser().parse_args(argv)
    path = args.state or default_state()
    try:
        state = DemoState.load(path)
        if args.command == "pr":
            open_pull_request(state, out)
        elif args.command == "module":
            open_module_pull_request(state, out)
        elif args.command in ("approve", "merge"):
            {"approve": approve, "merge": merge}[args.command](state, args.number, out, state.named(args.repo))
        else:
            drift(state, out)
    except DemoError as exc:
        print(f"demo {args.command}: {exc}", file=sys.stderr)
        return 1
    except github.GithubException as exc:
        message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
        print(f"demo {args.command}: GitHub answered {exc.status}: {message}", file=sys.stderr)
        return 1
    except requests.ConnectionError:  # the emulator is not listening any more
        print(f"demo {args.command}: nothing answers at {state.api_url}: is `make run` still running?",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
