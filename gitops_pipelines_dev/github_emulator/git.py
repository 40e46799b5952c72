"""The real git repository behind one emulated GitHub repository, driven by git's plumbing commands.

Plumbing (hash-object, commit-tree, update-ref, merge-tree) works on bare and non-bare repositories alike, so the
emulator never needs a working tree; tests may still drive the same repository with ordinary git commands.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ZERO_SHA = "0" * 40


class GitError(RuntimeError):
    pass


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str  # ISO 8601, UTC, GitHub style (Z)
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str  # GitHub's words: added, removed, modified, renamed
    additions: int
    deletions: int
    blob_sha: str | None
    patch: str
    previous_filename: str | None = None


@dataclass(frozen=True)
class TagInfo:
    """An annotated tag object: what `git cat-file tag` shows."""

    sha: str
    tag: str
    object_sha: str
    object_type: str
    tagger_name: str
    tagger_email: str
    tagger_date: str  # ISO 8601, UTC, GitHub style (Z)
    message: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str  # 100644, 100755, 120000 (symlink), 160000 (submodule), 040000 (tree)
    kind: str  # blob, tree, commit
    sha: str
    size: int
    path: str


_SHA = re.compile(r"[0-9a-f]{40}")


def _by_sha(method):
    """Memoise a read whose answer cannot change: every argument is a full commit SHA."""

    @functools.wraps(method)
    def wrapper(self, *args):
        if not all(isinstance(a, str) and _SHA.fullmatch(a) for a in args):
            return method(self, *args)
        key = (method.__name__, *args)
        if key not in self._memo:
            self._memo[key] = method(self, *args)
        return self._memo[key]

    return wrapper


_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}


class GitRepo:
    """A git repository on disk, read and written through the git CLI."""

    def __init__(self, path: str | Path, *, author: tuple[str, str] = ("GitOps Emulator", "emulator@example.com")):
        self.path = Path(path)
        self.author = author
        self._memo: dict[tuple, object] = {}

    # -- low level -------------------------------------------------------------------------------------------
    def git(self, *args: str, input: str | bytes | None = None, check: bool = True, env: dict | None = None) -> str:
        data = input.encode() if isinstance(input, str) else input
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})}
        proc = subprocess.run(
            ["git", "-C", str(self.path), *args], input=data, capture_output=True, env=full_env, check=False
        )
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args)} failed in {self.path}: {proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout.decode(errors="replace")

    @classmethod
    def init_bare(cls, path: str | Path) -> "GitRepo":
        Path(path).mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(path)], check=True, capture_output=True)
        return cls(path)

    @classmethod
    def clone_bare(cls, source: str | Path, path: str | Path) -> "GitRepo":
        """A bare copy of source with its branches and tags; --no-local copies the objects instead of linking."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--bare", "--no-local", "-q", str(source), str(path)], check=True,
                       capture_output=True)
        return cls(path)

    def fetch_branch(self, source: str | Path, branch: str) -> None:
        """Copy the objects of source's branch into this repository (no ref of ours moves)."""
        self.git("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", str(source), f"refs/heads/{branch}")

    def exists(self) -> bool:
        return self.path.exists() and self.git("rev-parse", "--git-dir", check=False).strip() != ""

    def _commit_env(self, author: tuple[str, str] | None) -> dict[str, str]:
        name, email = author or self.author
        return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
                "GIT_COMMITTER_EMAIL": email}

    # -- reading ---------------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str | None:
        """The commit SHA that ref (branch, tag, sha, refs/...) names, or None."""
        out = self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).strip()
        return out or None

    def object_type(self, sha: str) -> str | None:
        """commit, tree, blob or tag for a full SHA of an object in this repository; None for anything else."""
        if not _SHA.fullmatch(sha):
            return None
        return self.git("cat-file", "-t", sha, check=False).strip() or None

    def ref_object(self, ref: str) -> tuple[str, str] | None:
        """(sha, type) of the object ref points at, unpeeled (an annotated tag's ref gives the tag object), or None."""
        out = self.git("for-each-ref", "--format=%(objectname) %(objecttype)", ref).split()
        return (out[0], out[1]) if len(out) == 2 else None

    @staticmethod
    def valid_ref_name(ref: str) -> bool:
        """ref is a name git accepts for a ref (`git check-ref-format`)."""
        return subprocess.run(["git", "check-ref-format", ref], capture_output=True).returncode == 0

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        """Every ref under prefix -> the commit it points at (tags peeled)."""
        out = self.git("for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", prefix)
        result = {}
        for line in out.splitlines():
            name, sha, *peeled = line.split(" ")
            result[name] = peeled[0] if peeled and peeled[0] else sha
        return result

    def branches(self) -> dict[str, str]:
        return {name.removeprefix("refs/heads/"): sha for name, sha in self.refs("refs/heads/").items()}

    def tags(self) -> dict[str, str]:
        return {name.removeprefix("refs/tags/"): sha for name, sha in self.refs("refs/tags/").items()}

    @_by_sha
    def commit_info(self, sha: str) -> CommitInfo:
        fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        out = self.git("show", "-s", f"--format={fmt}", sha)
        h, tree, parents, an, ae, ad, cn, ce, cd, msg = out.split("\x00", 9)
        return CommitInfo(h, tree, tuple(parents.split()), an, ae, _utc(ad), cn, ce, _utc(cd), msg.rstrip("\n"))

    def tag_info(self, sha: str) -> TagInfo | None:
        """What the annotated tag object sha holds, or None when sha names no tag object."""
        if self.object_type(sha) != "tag":
            return None
        raw = self.git("cat-file", "tag", sha)
        head, _, message = raw.partition("\n\n")
        fields = dict(line.split(" ", 1) for line in head.splitlines() if " " in line)
        tagger = _TAGGER.fullmatch(fields.get("tagger", ""))
        name, email, stamp, _zone = tagger.groups() if tagger else ("", "", "0", "+0000")
        return TagInfo(sha, fields.get("tag", ""), fields["object"], fields["type"], name, email,
                       _utc_epoch(int(stamp)), message)

    def log(self, ref: str, *, exclude: str | None = None, path: str | None = None) -> list[str]:
        """SHAs reachable from ref (minus exclude), newest first."""
        args = ["rev-list", ref] + ([f"^{exclude}"] if exclude else []) + (["--", path] if path else [])
        return self.git(*args).split()

    @_by_sha
    def merge_base(self, a: str, b: str) -> str | None:
        return self.git("merge-base", a, b, check=False).strip() or None

    @_by_sha
    def count(self, ref: str, exclude: str) -> int:
        return int(self.git("rev-list", "--count", ref, f"^{exclude}").strip())

    @_by_sha
    def diff(self, base: str, head: str) -> list[FileChange]:
        """Files changed from base to head, with line counts and per-file patches, as GitHub lists them."""
        numstat = {}
        for line in self.git("diff", "--numstat", "-M", base, head).splitlines():
            add, delete, name = line.split("\t", 2)
            if " => " in name:
                name = _rename_target(name)
            numstat[name] = (int(add) if add != "-" else 0, int(delete) if delete != "-" else 0)
        changes = []
        for line in self.git("diff", "--name-status", "-M", base, head).splitlines():
            parts = line.split("\t")
            code, names = parts[0][0], parts[1:]
            filename, previous = names[-1], (names[0] if code in "RC" else None)
            blob = self.git("rev-parse", f"{base if code == 'D' else head}:{filename}").strip()
            patch = self._patch(base, head, filename, previous)
            add, delete = numstat.get(filename, (0, 0))
            changes.append(FileChange(filename, _STATUS.get(code, "modified"), add, delete, blob, patch, previous))
        return changes

    def _patch(self, base: str, head: str, filename: str, previous: str | None) -> str:
        paths = [p for p in (previous, filename) if p]
        text = self.git("diff", "-M", "--no-color", base, head, "--", *paths)
        # GitHub's `patch` starts at the first hunk header.
        at = text.find("\n@@")
        return text[at + 1:].rstrip("\n") if at >= 0 else ""

    def tree_entries(self, sha: str, path: str = "") -> list[TreeEntry]:
        """`git ls-tree` of commit sha: the entry at path itself (or the root's entries when path is empty)."""
        out = self.git("ls-tree", "-z", "-l", sha, *(["--", path] if path else []))
        entries = []
        for record in filter(None, out.split("\0")):
            meta, name = record.split("\t", 1)
            mode, kind, obj, size = meta.split()
            entries.append(TreeEntry(mode, kind, obj, 0 if size == "-" else int(size), name))
        return entries

    def blob(self, sha: str) -> bytes:
        return subprocess.run(["git", "-C", str(self.path), "cat-file", "blob", sha], capture_output=True,
                              check=True).stdout

    def show_file(self, ref: str, path: str) -> str | None:
        out = subprocess.run(["git", "-C", str(self.path), "show", f"{ref}:{path}"], capture_output=True)
        return out.stdout.decode() if out.returncode == 0 else None

    # -- writing ---------------------------------------------------------------------------------------------
    def commit_files(self, branch: str, files: dict[str, str | bytes | None], message: str, *,
                     parent: str | None = None, author: tuple[str, str] | None = None) -> str:
        """Commit files (None deletes) on top of branch (or parent when the branch is new); moves the branch."""
        current = self.resolve(f"refs/heads/{branch}")
        base = current or parent
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base:
                self.git("read-tree", base, env=env)
            entries = []
            for path, content in files.items():
                if content is None:  # mode 0 removes the entry (works without a working tree, unlike --remove)
                    entries.append(f"0 {ZERO_SHA}\t{path}")
                    continue
                blob = self.git("hash-object", "-w", "--stdin", input=content).strip()
                entries.append(f"100644 {blob}\t{path}")
            self.git("update-index", "--index-info", input="\n".join(entries) + "\n", env=env)
            tree = self.git("write-tree", env=env).strip()
        parents = ["-p", base] if base else []
        sha = self.git("commit-tree", tree, *parents, "-m", message, env=self._commit_env(author)).strip()
        self.update_ref(f"refs/heads/{branch}", sha, old=current or ZERO_SHA)
        return sha

    def merge(self, into: str, head: str, message: str, *, author: tuple[str, str] | None = None) -> str:
        """A real merge commit of head into branch `into` (git merge-tree, no working tree); moves `into`."""
        base = self.resolve(f"refs/heads/{into}")
        tree = self._merged_tree(base, head, into)
        sha = self.git("commit-tree", tree, "-p", base, "-p", head, "-m", message, env=self._commit_env(author)).strip()
        self.update_ref(f"refs/heads/{into}", sha, old=base)
        return sha

    def _merged_tree(self, base: str, head: str, into: str) -> str:
        proc = subprocess.run(["git", "-C", str(self.path), "merge-tree", "--write-tree", base, head],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise GitError(f"merging {head} into {into} conflicts:\n{proc.stdout}")
        return proc.stdout.splitlines()[0].strip()

    def squash(self, into: str, head: str, message: str, *, author: tuple[str, str] | None = None) -> str:
        """One commit on branch `into` holding everything head changes (a squash merge); moves `into`."""
        base = self.resolve(f"refs/heads/{into}")
        tree = self._merged_tree(base, head, into)
        sha = self.git("commit-tree", tree, "-p", base, "-m", message, env=self._commit_env(author)).strip()
        self.update_ref(f"refs/heads/{into}", sha, old=base)
        return sha

    def rebase(self, into: str, head: str, *, committer: tuple[str, str]) -> str:
        """head's commits (those not on `into`) replayed on `into`, each keeping its author and message and
        committed by committer (a rebase merge, in a throwaway worktree); moves `into` to the last one."""
        base = self.resolve(f"refs/heads/{into}")
        commits = list(reversed(self.log(head, exclude=base)))
        if not commits:
            return base
        name, email = committer
        env = {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "rebase"
            self.git("worktree", "add", "--detach", "-q", str(tree), base)
            try:
                work = GitRepo(tree)
                for sha in commits:
                    try:
                        work.git("cherry-pick", "--allow-empty", "--keep-redundant-commits", sha, env=env)
                    except GitError as exc:
                        raise GitError(f"rebasing {head} onto {into} conflicts at {sha}: {exc}") from None
                tip = work.git("rev-parse", "HEAD").strip()
            finally:
                self.git("worktree", "remove", "--force", str(tree), check=False)
                self.git("worktree", "prune", check=False)
        self.update_ref(f"refs/heads/{into}", tip, old=base)
        return tip

    @_by_sha
    def mergeable(self, into: str, head: str) -> bool:
        proc = subprocess.run(["git", "-C", str(self.path), "merge-tree", "--write-tree", into, head],
                              capture_output=True)
        return proc.returncode == 0

    def update_ref(self, ref: str, sha: str, old: str | None = None) -> None:
        self.git("update-ref", ref, sha, *([old] if old else []))

    def create_tag(self, tag: str, sha: str) -> None:
        self.git("update-ref", f"refs/tags/{tag}", sha, ZERO_SHA)

    def create_tag_object(self, tag: str, commit: str, message: str, tagger: tuple[str, str], when: datetime) -> str:
        """Write an annotated tag object for commit (git mktag, which checks it as fsck does); no ref is made.
        message is stored as given: git adds no newline here, unlike `git tag -m`."""
        name, email = tagger
        offset = int(when.utcoffset().total_seconds() // 60)
        zone = f"{'-' if offset < 0 else '+'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
        text = (f"object {commit}\ntype commit\ntag {tag}\n"
                f"tagger {name} <{email}> {int(when.timestamp())} {zone}\n\n{message}")
        return self.git("mktag", input=text).strip()


_TAGGER = re.compile(r"(.*) <(.*)> (\d+) ([+-]\d{4})")


def _utc_epoch(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(iso: str) -> str:
    """git's strict ISO date (with offset) -> GitHub's `YYYY-MM-DDTHH:MM:SSZ`."""
    return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rename_target(name: str) -> str:
    # numstat writes renames as `dir/{old => new}/f` or `old => new`.
    if "{" in name:
        head, rest = name.split("{", 1)
        inner, tail = rest.split("}", 1)
        return (head + inner.split(" => ")[1] + tail).replace("//", "/")
    return name.split(" => ")[1]
