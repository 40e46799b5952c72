"""The frame every page shares and the small pieces pages are made of. Every text is escaped here or rendered by
markdown.py; nothing from the emulator's state reaches a page otherwise."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

UI = "/ui"
STYLE = """
body { font: 14px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem 2rem; color: #1f2328; }
a { color: #0969da; } h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #d0d7de; }
.meta { color: #59636e; } .box { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem 1rem; margin: .6rem 0; }
.state { border-radius: 1em; padding: .1em .6em; color: #fff; background: #59636e; font-size: .85em; }
.open, .success, .APPROVED { background: #1a7f37; } .merged { background: #8250df; }
.failure, .error, .CHANGES_REQUESTED, .closed { background: #cf222e; }
.in_progress, .queued, .pending { background: #9a6700; }
.notice { background: #dafbe1; } .problem { background: #ffebe9; }
table { border-collapse: collapse; } td, th { border: 1px solid #d0d7de; padding: .2rem .5rem; text-align: left; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; } form { display: inline-block; margin-right: 2rem; }
"""


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def url(*parts: object) -> str:
    """A page's path below /ui, each part quoted (owner, repository, number, action)."""
    return UI + "/" + "/".join(quote(str(part), safe="") for part in parts)


def link(text: object, href: str) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def state(label: object, kind: object | None = None) -> str:
    """A coloured badge; kind picks the colour (a state or conclusion name), default the label."""
    return f'<span class="state {esc(kind or label)}">{esc(label)}</span>'


def short(sha: str | None) -> str:
    return f"<code>{esc((sha or '')[:7])}</code>"


def table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    """rows hold HTML already escaped by the caller; headers are plain text."""
    if not rows:
        return f'<p class="meta">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, crumbs: list[tuple[str, str]], body: str) -> str:
    """A whole HTML document: title (plain text), breadcrumbs (text, href) and the body's HTML."""
    trail = " / ".join(link(text, href) for text, href in [("repositories", UI + "/"), *crumbs])
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)} · GitHub emulator</title><style>{STYLE}</style></head>"
            f"<body><nav class=\"meta\">GitHub emulator: {trail}</nav>\n{body}\n</body></html>\n")


def select(name: str, options: list[str], chosen: str) -> str:
    items = "".join(f'<option value="{esc(o)}"{" selected" if o == chosen else ""}>{esc(o)}</option>'
                    for o in options)
    return f'<select name="{esc(name)}">{items}</select>'
