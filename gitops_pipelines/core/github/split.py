"""Splitting a long markdown comment into parts GitHub accepts, each one rendering on its own (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GITHUB_COMMENT_LIMIT = 65536
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


@dataclass
class _Open:
    """What is open after a line: a code fence (its opening line) and <details> blocks (their opening lines)."""

    fence: str | None = None  # the opening fence line, e.g. "```diff"
    details: list[str] = field(default_factory=list)

    def copy(self) -> "_Open":
        return _Open(self.fence, list(self.details))

    def closing(self) -> str:
        out = ""
        if self.fence:
            out += _fence_marker(self.fence) + "\n"
        out += "</details>\n" * len(self.details)
        return out

    def reopening(self) -> str:
        out = "".join(line if line.endswith("\n") else line + "\n" for line in self.details)
        if self.details:
            out += "\n"
        if self.fence:
            out += self.fence.rstrip("\n") + "\n"
        return out


def _fence_marker(opening: str) -> str:
    match = _FENCE.match(opening.rstrip("\n"))
    return match.group(1) if match else "```"


def _advance(state: _Open, line: str) -> _Open:
    new = state.copy()
    text = line.rstrip("\n")
    match = _FENCE.match(text)
    if new.fence:
        marker = _fence_marker(new.fence)
        if match and match.group(1)[0] == marker[0] and len(match.group(1)) >= len(marker) and not match.group(2).strip():
            new.fence = None
        return new
    if match:
        new.fence = text
        return new
    for tag in re.findall(r"<(/?)details\b", text, flags=re.IGNORECASE):
        if tag == "/":
            if new.details:
                new.details.pop()
        else:
            new.details.append(text)
    return new


def split_comment(body: str, limit: int = GITHUB_COMMENT_LIMIT) -> list[str]:
    """Parts of at most limit characters, cut on line boundaries; a code fence or <details> open at a cut is
    closed at the end of its part and opened again at the start of the next, so every part renders alone."""
    if len(body) <= limit:
        return [body]
    if limit < 200:
        raise ValueError(f"limit {limit} is too small to split a comment")
    parts: list[str] = []
    state = _Open()
    current = ""
    for line in _bounded_lines(body, limit // 4):
        after = _advance(state, line)
        if current.strip() and len(current) + len(line) + len(after.closing()) + 1 > limit:
            parts.append(_close(current, state))
            current = state.reopening()
        current += line
        state = after
    if current.strip():
        parts.append(_close(current, state))
    return parts


def _close(text: str, state: _Open) -> str:
    closing = state.closing()
    if closing and not text.endswith("\n"):
        text += "\n"
    return text + closing


def _bounded_lines(body: str, longest: int) -> list[str]:
    """The body's lines (with their newlines); a line longer than longest is cut into pieces."""
    out: list[str] = []
    for line in body.splitlines(keepends=True):
        while len(line) > longest:
            out.append(line[:longest] + "\n")
            line = line[longest:]
        if line:
            out.append(line)
    return out
