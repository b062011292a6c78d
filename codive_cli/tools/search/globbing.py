"""Glob patterns (gitignore-style `*`, `?`, `[...]`, `**`, plus `{a,b}`) as regexes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from codive_cli.tools.base import ToolError


def translate_glob(pattern: str) -> str:
    """A glob as a regex body; raises ToolError for an unclosed `{`."""
    out: list[str] = []
    i = 0
    depth = 0  # open `{` groups
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            piece, i = _stars(pattern, i)
        elif c == "[":
            piece, i = _bracket(pattern, i)
        elif c == "\\" and i + 1 < len(pattern):
            piece, i = re.escape(pattern[i + 1]), i + 2
        else:
            piece, depth = _single(c, depth)
            i += 1
        out.append(piece)
    if depth:
        raise ToolError(f"glob {pattern!r} has an unclosed '{{'")
    return "".join(out)


def _stars(pattern: str, i: int) -> tuple[str, int]:
    """The run of `*` at `i`: its regex and the index after it."""
    if not pattern.startswith("**", i):
        return "[^/]*", i + 1
    at_start = i == 0 or pattern[i - 1] == "/"
    j = i + 2
    while j < len(pattern) and pattern[j] == "*":
        j += 1
    if at_start and j < len(pattern) and pattern[j] == "/":
        return "(?:[^/]*/)*", j + 1  # `**/`: any number of folders, none included
    if at_start and j == len(pattern):
        return ".*", j  # a trailing `/**`: everything below
    return "[^/]*", j  # `**` inside a name is a plain `*`


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """The character class opening at `i` (a literal `[` if never closed), and the next index."""
    j = i + 1
    if j < len(pattern) and pattern[j] in "!^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1  # a `]` first in the class is one of its characters
    while j < len(pattern) and pattern[j] != "]":
        j += 1
    if j >= len(pattern):
        return re.escape("["), i + 1
    body = pattern[i + 1 : j]
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    chars = "".join(ch if ch == "-" else re.escape(ch) for ch in body)
    return (f"[^/{chars}]" if negate else f"[{chars}]"), j + 1


def _single(c: str, depth: int) -> tuple[str, int]:
    """One other character's regex, and the `{` depth after it."""
    if c == "?":
        return "[^/]", depth
    if c == "{":
        return "(?:", depth + 1
    if c == "}" and depth:
        return ")", depth - 1
    if c == "," and depth:
        return "|", depth
    return re.escape(c), depth


@dataclass(frozen=True)
class GlobMatcher:
    """Matches file paths relative to the searched folder.

    A pattern without `/` matches the file name at any depth (`*.py`, `test_*.{js,ts}`); one
    with `/` matches the whole relative path (`src/**/*.rs`, `docs/*.md`); `**` spans folders.
    """

    pattern: str
    basename: bool
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, pattern: str) -> GlobMatcher:
        text = pattern.strip()
        if not text:
            raise ToolError("glob pattern is empty: give one such as '*.py' or 'src/**/*.ts'")
        while text.startswith("./"):
            text = text[2:]
        text = text.lstrip("/")
        if text.endswith("/"):
            text += "**"
        if not text:
            text = "**"
        basename = "/" not in text
        try:
            regex = re.compile(translate_glob(text), re.DOTALL)
        except re.error as exc:
            raise ToolError(f"invalid glob {pattern!r}: {exc}") from None
        return cls(text, basename, regex)

    def __call__(self, rel: str) -> bool:
        target = rel.rpartition("/")[2] if self.basename else rel
        return self.regex.fullmatch(target) is not None
