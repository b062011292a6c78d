"""write_file: create a file or replace its whole content, keeping what the file was like."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from pathlib import Path
from typing import Any, ClassVar

from codive_cli.policy.regular import open_regular
from codive_cli.tools.base import (
    Tool,
    ToolContext,
    ToolError,
    ToolKind,
    ToolResult,
    describe_from,
    require_string,
)
from codive_cli.tools.files.atomic import write
from codive_cli.tools.files.common import (
    MAX_EDIT_BYTES,
    TextFile,
    check_regular,
    diff,
    line_count,
    load_text,
    resolve,
)


class WriteFileTool(Tool):
    name: ClassVar[str] = "write_file"
    description: ClassVar[str] = describe_from(__package__, "write_file.md")
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to write, relative to the workspace root.",
            },
            "content": {
                "type": "string",
                "description": "The complete new content of the file.",
            },
        },
        "required": ["path", "content"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "edit"

    def preview(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """The diff against the file as it is, or the new file's first lines."""
        try:
            raw = require_string(arguments, "path")
            content = require_string(arguments, "content")
            path, shown = resolve(context, raw)
            if not check_regular(path, raw, shown, for_write=True):
                return diff("", content, shown, created=True)
            return diff(load_text(path, shown).text, content, shown) or "(no change)"
        except ToolError as error:
            return f"(cannot preview: {error})"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raw = require_string(arguments, "path")
        content = require_string(arguments, "content")
        path, shown = resolve(context, raw)
        return await asyncio.to_thread(_write_file, path, raw, shown, content)


def _write_file(path: Path, raw: str, shown: str, content: str) -> ToolResult:
    exists = check_regular(path, raw, shown, for_write=True)
    old: TextFile | None = None
    before = b""
    if exists:
        old, before = _current(path, shown)
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ToolError(f"cannot create the folder for {shown}: {exc}") from None
    fmt, notes = _format(old, content)
    data = fmt.encode(content)
    if exists and data == before:
        return ToolResult(
            f"{shown} already has this content; nothing was written.",
            display=f"{shown}: unchanged",
            metadata={"created": False, "changed": False},
        )
    write(path, data, shown)
    return _report(shown, content, old, exists, notes)


def _current(path: Path, shown: str) -> tuple[TextFile | None, bytes]:
    """The file as text (None if it is not UTF-8 text or too large) and its bytes."""
    info = os.stat(path)
    if info.st_size > MAX_EDIT_BYTES:
        return None, b""
    with open_regular(path) as f:
        before = f.read()
    with contextlib.suppress(ToolError):  # binary: replaced as it is
        return TextFile.decode(before, stat.S_IMODE(info.st_mode), shown), before
    return None, before


def _format(old: TextFile | None, content: str) -> tuple[TextFile, list[str]]:
    """How to encode `content` so the file keeps its BOM and line endings, and notes saying
    what was kept."""
    if old is None:
        return TextFile("", False, False, 0), []
    notes: list[str] = []
    # LF content for a CRLF file is written with CRLF; content that already has CRLF is
    # written as it is.
    crlf = old.crlf and "\r\n" not in content
    if crlf and "\n" in content:
        notes.append("CRLF line endings kept")
    if old.bom and not content.startswith("\ufeff"):
        notes.append("UTF-8 byte-order mark kept")
    return TextFile("", old.bom, crlf, old.mode), notes


def _report(
    shown: str, content: str, old: TextFile | None, existed: bool, notes: list[str]
) -> ToolResult:
    lines = line_count(content)
    plural = "s" if lines != 1 else ""
    extra = f" ({'; '.join(notes)})" if notes else ""
    if not existed:
        message = f"Created {shown}: {lines} line{plural}{extra}."
        display = diff("", content, shown, created=True)
    elif old is not None:
        was = line_count(old.text)
        message = f"Overwrote {shown}: {lines} line{plural}, was {was}{extra}."
        display = diff(old.text, content.replace("\r\n", "\n"), shown)
    else:
        message = f"Overwrote {shown} (it was not UTF-8 text): {lines} line{plural}."
        display = f"{shown}: non-text content replaced by {lines} line{plural} of text"
    return ToolResult(
        message,
        display=display,
        metadata={"created": not existed, "lines": lines, "changed": True},
    )
