"""The places an edit changed, shown without splitting the whole file into lines: a unified
diff of each changed region with its context (for approval and display) and the numbered
snippet the model sees. Their cost follows the changes, not the file."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence

from codive_cli.tools.base import truncate
from codive_cli.tools.files.common import MAX_DISPLAY_CHARS
from codive_cli.tools.files.matching import MAX_LINE_CHARS, Span, numbered

CONTEXT = 3  # unchanged lines shown around a change
_HUNK = re.compile(r"^@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@", re.MULTILINE)


def line_window(text: str, start: int, end: int, context: int = CONTEXT) -> tuple[int, int]:
    """The characters of the whole lines that [start, end) touches, plus `context` lines on
    each side."""
    low = text.rfind("\n", 0, start) + 1
    for _ in range(context):
        if low == 0:
            break
        low = text.rfind("\n", 0, low - 1) + 1
    newline = text.find("\n", max(start, end - 1))
    high = len(text) if newline == -1 else newline + 1
    for _ in range(context):
        if high >= len(text):
            break
        newline = text.find("\n", high)
        high = len(text) if newline == -1 else newline + 1
    return low, high


class _LineCounter:
    """Line numbers of positions met in increasing order, counting each newline once."""

    def __init__(self, text: str) -> None:
        self.text, self.position, self.line = text, 0, 1

    def at(self, position: int) -> int:
        self.line += self.text.count("\n", self.position, position)
        self.position = position
        return self.line


def _windows(old: str, new: str, spans: Sequence[Span]) -> Iterator[tuple[int, int, int, int]]:
    """The regions to diff: each span's lines with context, overlapping ones merged."""
    current: tuple[int, int, int, int] | None = None
    for old_start, old_end, new_start, new_end in spans:
        o_low, o_high = line_window(old, old_start, old_end)
        n_low, n_high = line_window(new, new_start, new_end)
        if current is not None and o_low <= current[1]:
            current = (current[0], max(o_high, current[1]), current[2], max(n_high, current[3]))
            continue
        if current is not None:
            yield current
        current = (o_low, o_high, n_low, n_high)
    if current is not None:
        yield current


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def _hunks(old: str, new: str, old_line: int, new_line: int) -> str:
    """The unified diff of two regions, its hunk headers moved to the regions' lines."""
    body = list(difflib.unified_diff(_lines(old), _lines(new), n=CONTEXT))[2:]
    text = "".join(line if line.endswith("\n") else line + "\n" for line in body)

    def shift(match: re.Match[str]) -> str:
        a, b = int(match[1]) + old_line - 1, int(match[3]) + new_line - 1
        return f"@@ -{a}{match[2]} +{b}{match[4]} @@"

    return _HUNK.sub(shift, text)


def region_diff(old: str, new: str, spans: Sequence[Span], shown: str) -> str:
    """A unified diff of the regions `spans` changed, bounded for a person to read."""
    old_lines, new_lines = _LineCounter(old), _LineCounter(new)
    parts: list[str] = []
    used = 0
    for o_low, o_high, n_low, n_high in _windows(old, new, spans):
        if used > MAX_DISPLAY_CHARS:
            break
        hunk = _hunks(
            old[o_low:o_high], new[n_low:n_high], old_lines.at(o_low), new_lines.at(n_low)
        )
        parts.append(hunk)
        used += len(hunk)
    body = "".join(parts)
    if not body:
        return ""
    return truncate(f"--- a/{shown}\n+++ b/{shown}\n{body}".rstrip("\n"), MAX_DISPLAY_CHARS)


def snippet(text: str, span: Span, limit: int = 60) -> str:
    """The new text of `span` with CONTEXT lines around it, numbered, at most `limit` lines."""
    low, high = line_window(text, span[2], span[3])
    lines = text[low:high].split("\n", limit)
    if len(lines) > limit:
        del lines[limit:]
    elif text[high - 1 : high] == "\n":
        lines.pop()  # the empty piece after the window's last newline
    body = [line[:MAX_LINE_CHARS] for line in lines]
    return numbered(body, text.count("\n", 0, low) + 1) if body else ""
