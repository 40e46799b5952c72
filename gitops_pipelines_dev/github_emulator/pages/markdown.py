"""Markdown of comments, check outputs and Release bodies as HTML, the way GitHub shows the pipeline's comments.

markdown-it renders with `html: False`, so raw HTML in a comment stays text. The few HTML lines the pipeline itself
writes are understood by their exact shape and re-created here (never copied): a whole-line `<!-- marker -->`
is hidden, `<details><summary>…</summary>` / `</details>` fold what is between them, and `<sub>…</sub>` is small
print. Their inner text is markdown too, so it is escaped like the rest.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")
_DETAILS = re.compile(r"^\s*<details>\s*(?:<summary>(.*)</summary>)?\s*$", re.IGNORECASE)
_DETAILS_END = re.compile(r"^\s*</details>\s*$", re.IGNORECASE)
_SUB = re.compile(r"^\s*<sub>(.*)</sub>\s*$", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def render(source: str | None) -> str:
    """source (GitHub-flavoured markdown) as safe HTML: no tag or attribute of source reaches the page."""
    out: list[str] = []
    chunk: list[str] = []
    depth, fence = 0, ""

    def flush() -> None:
        if chunk:
            out.append(_MD.render("\n".join(chunk)))
            chunk.clear()

    for line in (source or "").splitlines():
        if fence:
            chunk.append(line)
            if line.strip() and set(line.strip()) == {fence[0]} and len(line.strip()) >= len(fence):
                fence = ""
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            chunk.append(line)
        elif _COMMENT.match(line):
            continue  # GitHub hides HTML comments: the pipeline's markers
        elif match := _DETAILS.match(line):
            flush()
            depth += 1
            summary = _MD.renderInline(match.group(1)) if match.group(1) else "Details"
            out.append(f"<details><summary>{summary}</summary>\n")
        elif _DETAILS_END.match(line) and depth:
            flush()
            depth -= 1
            out.append("</details>\n")
        elif match := _SUB.match(line):
            flush()
            out.append(f"<p><sub>{_MD.renderInline(match.group(1))}</sub></p>\n")
        else:
            chunk.append(line)
    flush()
    out.extend("</details>\n" for _ in range(depth))
    return "".join(out)


def inline(source: str | None) -> str:
    """One line of markdown (a title) as safe inline HTML."""
    return _MD.renderInline(source or "")
