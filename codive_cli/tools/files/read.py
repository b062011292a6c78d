"""read_file: a window of a text file's lines, numbered, bounded in lines and characters."""

from __future__ import annotations

import asyncio
import codecs
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from codive_cli.policy.regular import open_regular
from codive_cli.tools.base import (
    Tool,
    ToolContext,
    ToolError,
    ToolKind,
    ToolResult,
    describe_from,
    optional,
    require_string,
    truncate,
)
from codive_cli.tools.files.common import (
    BINARY_SNIFF_BYTES,
    BOM,
    OUTPUT_BUDGET,
    binary_error,
    check_regular,
    resolve,
)
from codive_cli.tools.files.line_index import (
    INDEXES,
    LineIndex,
    cached,
    file_key,
    index_for,
)
from codive_cli.tools.files.matching import MAX_LINE_CHARS, numbered

MAX_READ_LINES = 2000  # lines per read_file call, unless `limit` asks for fewer
_LINE_READ_CAP = 64 * 1024  # bytes of one line read at a time (a minified file's one line)


class ReadFileTool(Tool):
    name: ClassVar[str] = "read_file"
    description: ClassVar[str] = describe_from(
        __package__, "read_file.md", MAX_READ_LINES=MAX_READ_LINES, MAX_LINE_CHARS=MAX_LINE_CHARS
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to read, relative to the workspace root.",
            },
            "offset": {
                "type": "integer",
                "minimum": 1,
                "description": "First line to return (1-based; default 1).",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "description": f"How many lines to return (default and maximum {MAX_READ_LINES}).",
            },
        },
        "required": ["path"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "read"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raw = require_string(arguments, "path")
        offset = _positive(arguments, "offset") or 1
        limit = min(_positive(arguments, "limit") or MAX_READ_LINES, MAX_READ_LINES)
        path, shown = resolve(context, raw)

        def work() -> ToolResult:
            check_regular(path, raw, shown)
            try:
                return _read_window(path, shown, offset, limit)
            except PermissionError:
                raise ToolError(f"{shown}: permission denied") from None

        return await asyncio.to_thread(work)


def _positive(arguments: Mapping[str, Any], name: str) -> int | None:
    value = optional(arguments, name, int)
    if value is not None and value < 1:
        raise ToolError(f"{name} must be an integer >= 1, not {value!r}")
    return value


@dataclass
class _Window:
    """The lines shown from `offset` on, and what the file holds around them."""

    offset: int
    lines: list[str] = field(default_factory=list)
    more: bool = False  # lines follow the window
    stopped_for_size: bool = False
    total: int = 0  # lines in the file


def _read_window(path: Path, shown: str, offset: int, limit: int) -> ToolResult:
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        start = _text_start(f, shown, size)
        index = cached(f, start) if offset == 1 else index_for(f, start)
        if index is not None and offset > index.total:
            return _window_result(_Window(offset, total=index.total), shown)
        index = _seek_line(f, index, start, offset, shown)
        window = _collect(f, shown, size, offset, limit)
        last = offset + len(window.lines) - 1
        if window.more:  # the total comes from the index (built now on a first read)
            index = index or index_for(f, start)
            window.total = max(index.total, last + 1)
        else:
            window.total = last  # the window reached the end of the file
    return _window_result(window, shown)


def _text_start(f: IO[bytes], shown: str, size: int) -> int:
    """Where line 1 starts (after a byte-order mark); an error unless the head is text."""
    head = f.read(BINARY_SNIFF_BYTES)
    if b"\0" in head:
        raise binary_error(shown, size, "it contains NUL bytes")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) >= size)
    except UnicodeDecodeError as exc:
        raise binary_error(shown, size, f"not valid UTF-8 at byte {exc.start}") from None
    return len(BOM) if head.startswith(BOM) else 0


def _seek_line(
    f: IO[bytes], index: LineIndex | None, start: int, line: int, shown: str
) -> LineIndex | None:
    """Put `f` at the start of `line`, and return the index that found it: one the file no
    longer matches is built again."""
    if index is None or line == 1:
        f.seek(start)
        return index
    position = index.line_start(f, line)
    if position is None:
        INDEXES.drop(file_key(os.fstat(f.fileno())))
        index = index_for(f, start)
        position = index.line_start(f, line) if line <= index.total else None
    if position is None:
        raise ToolError(f"{shown} changed while it was being read; read it again")
    f.seek(position)
    return index


def _collect(f: IO[bytes], shown: str, size: int, offset: int, limit: int) -> _Window:
    """Up to `limit` lines from `f`'s position (line `offset`), within the output budget."""
    window = _Window(offset)
    used = 0
    for number, (raw, extra) in enumerate(_iter_lines(f), offset):
        if len(window.lines) >= limit:
            window.more = True
            break
        text = _shown_line(_decode_line(raw, extra > 0, shown, size, number), extra)
        entry = len(text) + 8
        if window.lines and used + entry > OUTPUT_BUDGET:
            window.more = window.stopped_for_size = True
            break
        window.lines.append(text)
        used += entry
    return window


def _shown_line(text: str, extra: int) -> str:
    """A line as shown: without its CR, cut at MAX_LINE_CHARS (`extra` bytes were unread)."""
    if text.endswith("\r"):
        text = text[:-1]
    full = len(text) + extra
    if full > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + (
            f"… [line truncated: {full} characters; use grep or bash to see it all]"
        )
    return text


def _window_result(window: _Window, shown: str) -> ToolResult:
    offset, total = window.offset, window.total
    if total == 0:
        return ToolResult(
            f"{shown} is empty (0 lines).",
            display=f"read {shown}: empty",
            metadata={"first_line": 0, "last_line": 0, "total_lines": 0},
        )
    if not window.lines:
        raise ToolError(
            f"offset {offset} is past the end of {shown}, which has {total} "
            f"line{'s' if total != 1 else ''}"
        )
    last = offset + len(window.lines) - 1
    remaining = total - last
    content = numbered(window.lines, offset)
    if remaining:
        reason = " (output size limit reached)" if window.stopped_for_size else ""
        content += (
            f"\n... {remaining} more line{'s' if remaining != 1 else ''}{reason}; "
            f"call read_file again with offset={last + 1} to continue"
        )
    return ToolResult(
        truncate(content),
        display=f"read {shown}: lines {offset}-{last} of {total}",
        metadata={"first_line": offset, "last_line": last, "total_lines": total},
    )


def _iter_lines(f: IO[bytes]) -> Iterator[tuple[bytes, int]]:
    """Lines without their "\\n", each at most _LINE_READ_CAP bytes, with how many bytes of
    the line were left unread."""
    while True:
        chunk = f.readline(_LINE_READ_CAP)
        if not chunk:
            return
        if chunk.endswith(b"\n"):
            yield chunk[:-1], 0
            continue
        if len(chunk) < _LINE_READ_CAP:
            yield chunk, 0  # the last line, with no newline
            return
        extra = 0
        while more := f.readline(_LINE_READ_CAP):
            if more.endswith(b"\n"):
                extra += len(more) - 1
                break
            extra += len(more)
        yield chunk, extra


def _decode_line(raw: bytes, cut: bool, shown: str, size: int, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(raw) - 3:
            return raw[: exc.start].decode("utf-8")  # a character split by the read cap
        raise binary_error(shown, size, f"line {number} is not valid UTF-8") from None
