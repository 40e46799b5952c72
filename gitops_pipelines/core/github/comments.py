"""One comment per unit and environment, found again by its author (the bot) and its hidden marker; parts when it
is too long (pure). Anyone can write the marker: a comment is only ever ours when the bot wrote it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .models import Comment
from .split import GITHUB_COMMENT_LIMIT, split_comment

_MARKER = re.compile(r"^\s*<!--\s*(.+?)(?:\s+part=(\d+))?\s*-->")
_PART_HEADER_RESERVE = 200  # room for each part's marker and "Part i of n" line


def marker_key(marker: str) -> str:
    """`<!-- gitops-pipelines:unit=a env=b -->` -> `gitops-pipelines:unit=a env=b` (a bare key is accepted too)."""
    match = _MARKER.match(marker)
    key = match.group(1) if match else marker.strip()
    if not key or "--" in key or ">" in key:
        raise ValueError(f"invalid comment marker {marker!r}")
    return key


def part_marker(key: str, part: int) -> str:
    return f"<!-- {key} part={part} -->"


def same_login(a: str, b: str) -> bool:
    """GitHub logins compare without case."""
    return bool(a) and a.casefold() == (b or "").casefold()


def parts_of(comments: Iterable[Comment], key: str, author: str | None = None) -> dict[int, list[Comment]]:
    """Comments that start with key's marker (and were written by author, when given), by part number (the
    plain marker is part 1), oldest first."""
    found: dict[int, list[Comment]] = {}
    for comment in sorted(comments, key=lambda c: c.id):
        if author is not None and not same_login(author, comment.author):
            continue
        match = _MARKER.match(comment.body or "")
        if match and match.group(1) == key:
            found.setdefault(int(match.group(2) or 1), []).append(comment)
    return found


def render_parts(key: str, body: str, limit: int = GITHUB_COMMENT_LIMIT) -> list[str]:
    """The comment bodies to publish: body itself (with its marker) when it fits, else numbered parts."""
    plain = f"<!-- {key} -->"
    content = body.replace(plain, "", 1).lstrip("\n") if body.lstrip().startswith(plain) else body
    single = f"{plain}\n{content}"
    if len(single) <= limit:
        return [single]
    chunks = split_comment(content, limit - _PART_HEADER_RESERVE)
    n = len(chunks)
    return [f"{part_marker(key, i)}\n**Part {i} of {n}**\n\n{chunk}" for i, chunk in enumerate(chunks, start=1)]


def cleared_body(key: str, part: int) -> str:
    """What a surplus part is edited to: its marker stays, so a later, longer body reuses it."""
    return f"{part_marker(key, part)}\n_Part {part} is no longer used: the latest content fits in fewer parts._\n"


@dataclass(frozen=True)
class CommentPlan:
    """The writes that bring a pull request's comments for one key up to date."""

    update: tuple[tuple[int, str], ...]  # (comment id, new body)
    create: tuple[str, ...]  # bodies of new comments, in part order
    keep: tuple[int, ...]  # ids already up to date, in part order
    order: tuple[int | None, ...]  # per part: the existing comment id, or None for a new one


def plan_upsert(existing: Iterable[Comment], key: str, body: str, limit: int = GITHUB_COMMENT_LIMIT, *,
                author: str | None = None) -> CommentPlan:
    """Edit existing parts in place, create missing ones, clear surplus and duplicate ones; skip unchanged ones.
    With author (the bot's login), comments by anyone else are never touched, whatever marker they carry."""
    found = parts_of(existing, key, author)
    wanted = render_parts(key, body, limit)
    update: list[tuple[int, str]] = []
    create: list[str] = []
    keep: list[int] = []
    order: list[int | None] = []
    for i, text in enumerate(wanted, start=1):
        current = (found.get(i) or [None])[0]
        if current is None:
            create.append(text)
            order.append(None)
            continue
        order.append(current.id)
        (keep.append(current.id) if current.body == text else update.append((current.id, text)))
    for part, comments in found.items():
        surplus = comments if part > len(wanted) else comments[1:]
        for comment in surplus:
            cleared = cleared_body(key, part)
            if comment.body != cleared:
                update.append((comment.id, cleared))
    return CommentPlan(tuple(update), tuple(create), tuple(keep), tuple(order))
