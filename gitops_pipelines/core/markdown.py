"""Markdown that stays inert. Text from a pull request or from Terraform (addresses, messages, diffs, errors) goes
into code spans and fences longer than any backtick run in it, or is escaped, so nothing in it can close our code,
@mention people, link, or open an HTML comment that hides the rest of what we say. Redact before calling these:
escaping changes the text a secret is looked for in. Pure functions, the one place for this."""

from __future__ import annotations

import re

ZWSP = "\u200b"  # after @, #, a colon, www: GitHub no longer sees a mention, reference, emoji or bare link
_NEWLINES = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TICKS = re.compile(r"`+")
# what can start markup inside a line: emphasis, code, links, images, HTML, entities, tables, strikethrough, math
_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~$])")
_REFERENCE = re.compile(r"[@#]|:(?=\S)|(?<![\w.])www(?=\.)", re.IGNORECASE)
_LINE_START = re.compile(r"^(\s*)(?:([#+=-])|(\d+)([.)]))")  # headings, lists, setext lines at the start
_CODE_IN_PROSE = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def _flat(text: object) -> str:
    return _NEWLINES.sub(" ", _CONTROL.sub("", str(text)))


def longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _TICKS.findall(text)), default=0)


def code_span(text: object) -> str:
    """text as inline code that nothing inside can end early or turn into markup (mentions, links, HTML)."""
    flat = _flat(text)
    if not flat:
        return "` `"
    ticks = "`" * (longest_backtick_run(flat) + 1)
    pad = " " if flat[0] == "`" or flat[-1] == "`" or (flat[0] == " " and flat[-1] == " " and flat.strip()) else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in text, so no line of text can close it."""
    return "`" * max(3, longest_backtick_run(text) + 1)


def fenced(text: object, info: str = "text") -> str:
    """text as a fenced code block (no trailing newline); the info string is ours (`diff`, `hcl`, `text`)."""
    if "`" in info or "\n" in info:
        raise ValueError(f"a fence's info string cannot hold backticks or newlines: {info!r}")
    body = _CONTROL.sub("", str(text)).rstrip("\n")
    fence = fence_for(body)
    return f"{fence}{info}\n{body}\n{fence}"


def text(value: object) -> str:
    """value as plain words on one line: markup characters escaped; @mentions, #references, :emoji: and bare
    links (https://..., www....) broken by an invisible space, as GitHub finds those after rendering."""
    flat = _SPECIAL.sub(r"\\\1", _flat(value))
    flat = _LINE_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\"
                                                   + m.group(4)), flat, count=1)
    return _REFERENCE.sub(lambda m: m.group(0) + ZWSP, flat)


def prose(value: object) -> str:
    """A message that may quote things in backticks (a policy rule's words): its code spans stay code (made
    longer than what they hold), everything else is text()."""
    flat, out, at = _flat(value), [], 0
    for match in _CODE_IN_PROSE.finditer(flat):
        out += [text(flat[at:match.start()]), code_span(match.group(2).strip() or " ")]
        at = match.end()
    out.append(text(flat[at:]))
    return "".join(out)


def cell(markdown: str) -> str:
    """Inline markdown (our words, code spans, text()) as one table cell: `|` escaped, on one line. GitHub
    un-escapes `\\|` inside code spans of a table too, so the code reads as it was."""
    return _flat(markdown).replace("|", "\\|")


def plain(value: object, limit: int | None = None, *, one_line: bool = False) -> str:
    """For GitHub's plain-text fields (check-run titles, annotation titles and messages): control characters
    removed, mentions broken, optionally one line, cut to limit."""
    out = _flat(value) if one_line else _CONTROL.sub("", str(value))
    out = out.replace("@", "@" + ZWSP)
    return out[:limit] if limit is not None else out


def link(label: str, url: str | None) -> str:
    """[label](url) with the characters that would end the link target escaped; "" without a url."""
    if not url:
        return ""
    target = _flat(url).replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C") \
        .replace(">", "%3E")
    return f"[{label}]({target})"
