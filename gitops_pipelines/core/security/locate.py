"""Line numbers for what python-hcl2 found. It keeps no positions, so each block is looked up again in the file's
text by its header (`data "external" "x" {`), one step inside another (`resource "a" "b"`, then its
`provisioner "local-exec"`). Comments and heredoc bodies are blanked first, so a commented-out header never
matches; a header that still cannot be found gives the line of the enclosing step, else line 1."""

from __future__ import annotations

import re

# ("block", keyword, *labels): `keyword "label" ... {`;  ("attr", name): `name = ...`
Step = tuple[str, ...]

_HEREDOC = re.compile(r"<<-?([A-Za-z_][\w-]*)[ \t]*\r?\n")
_NOT_PART_OF_A_NAME = r'(?<![\w.\-"])'


def block(keyword: str, *labels: str) -> Step:
    return ("block", keyword, *labels)


def attr(name: str) -> Step:
    return ("attr", name)


class Locator:
    """Finds steps, each inside the one before, in the text of one file."""

    def __init__(self, text: str, *, json: bool):
        self._json = json
        self._text = text if json else blank_comments(text)

    def line(self, *steps: Step, nth: int = 0) -> int:
        """The line where the last step starts; nth: its nth occurrence after the step before (two provisioners
        of one type in one resource)."""
        patterns = [p for step in steps for p in self._patterns(step)]
        patterns += patterns[-1:] * nth  # in .tf.json, repeated blocks are entries of one list under one key
        pos, found = 0, None
        for pattern in patterns:
            match = pattern.search(self._text, pos)
            if match is None:
                break
            pos, found = match.end(), match.start()
        return 1 if found is None else self._text.count("\n", 0, found) + 1

    def _patterns(self, step: Step) -> list[re.Pattern]:
        kind, name, *labels = step
        if self._json:  # .tf.json nests the same names as object keys
            return [re.compile(rf'"{re.escape(key)}"\s*:') for key in (name, *labels)]
        if kind == "attr":
            return [re.compile(rf'{_NOT_PART_OF_A_NAME}(?:{re.escape(name)}|"{re.escape(name)}")\s*=(?!=)')]
        header = _NOT_PART_OF_A_NAME + re.escape(name)
        for label in labels:  # HCL takes a label quoted or, when it is a name, bare
            header += rf'\s+(?:"{re.escape(label)}"|{re.escape(label)}(?![\w-]))'
        return [re.compile(header + r"\s*\{")]


def blank_comments(text: str) -> str:
    """The text with comments and heredoc bodies replaced by spaces (newlines kept, so lines stay where they are).
    Strings are skipped, including `${ ... }` interpolations with strings of their own."""
    out = list(text)
    stack: list[str | int] = []  # "s": inside a string; an int: brace depth inside an interpolation
    i, n = 0, len(text)

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] not in "\r\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if stack and stack[-1] == "s":
            if c == "\\":
                i += 2
            elif c == '"':
                stack.pop()
                i += 1
            elif text.startswith(("${", "%{"), i):
                stack.append(0)
                i += 2
            else:
                i += 1
            continue
        if c == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            blank(i, end)
            i = end
        elif (heredoc := _HEREDOC.match(text, i)) is not None:
            close = re.compile(rf"^[ \t]*{re.escape(heredoc.group(1))}[ \t]*\r?$", re.M).search(text, heredoc.end())
            end = n if close is None else close.start()
            blank(heredoc.end(), end)
            i = n if close is None else close.end()
        elif c == '"':
            stack.append("s")
            i += 1
        else:
            if stack:  # inside an interpolation
                if c == "{":
                    stack[-1] += 1  # type: ignore[operator]
                elif c == "}":
                    if stack[-1] == 0:
                        stack.pop()
                    else:
                        stack[-1] -= 1  # type: ignore[operator]
            i += 1
    return "".join(out)
