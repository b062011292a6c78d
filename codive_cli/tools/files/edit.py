"""edit_file: replace one exact (or whitespace-tolerant, unambiguous) match of old_string."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from codive_cli.tools.base import (
    Tool,
    ToolContext,
    ToolError,
    ToolKind,
    ToolResult,
    describe_from,
    flag,
    require_string,
    truncate,
)
from codive_cli.tools.files.atomic import write
from codive_cli.tools.files.common import TextFile, check_regular, load_text, resolve
from codive_cli.tools.files.matching import EditOutcome, apply_edit
from codive_cli.tools.files.regions import region_diff, snippet


class EditFileTool(Tool):
    name: ClassVar[str] = "edit_file"
    description: ClassVar[str] = describe_from(__package__, "edit_file.md")
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "File to edit, relative to the workspace root.",
            },
            "old_string": {
                "type": "string",
                "description": "Exact text to replace (not empty).",
            },
            "new_string": {
                "type": "string",
                "description": "Replacement text (may be empty to delete old_string).",
            },
            "replace_all": {
                "type": "boolean",
                "description": "Replace every occurrence of old_string (default false).",
            },
        },
        "required": ["path", "old_string", "new_string"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "edit"

    def preview(self, arguments: dict[str, Any], context: ToolContext) -> str:
        """The diff the edit would make, computed the way `run` makes it, without writing."""
        try:
            raw = require_string(arguments, "path")
            old = require_string(arguments, "old_string")
            new = require_string(arguments, "new_string")
            path, shown = resolve(context, raw)
            check_regular(path, raw, shown)
            original = load_text(path, shown)
            old, new = _line_endings(original, old, new)
            replace_all = arguments.get("replace_all") is True
            outcome = apply_edit(shown, original.text, old, new, replace_all)
            return region_diff(original.text, outcome.text, outcome.spans, shown) or "(no change)"
        except ToolError as error:
            return f"(the edit would fail: {error})"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raw = require_string(arguments, "path")
        old = require_string(arguments, "old_string")
        new = require_string(arguments, "new_string")
        replace_all = flag(arguments, "replace_all")
        if old == "":
            raise ToolError(
                "old_string is empty. To create a file or replace its whole content use "
                "write_file; to insert text, give the line(s) next to the insertion point as "
                "old_string and repeat them in new_string."
            )
        if old == new:
            raise ToolError("old_string and new_string are identical: nothing would change")
        path, shown = resolve(context, raw)
        return await asyncio.to_thread(_edit, path, raw, shown, (old, new, replace_all))


def _edit(path: Path, raw: str, shown: str, change: tuple[str, str, bool]) -> ToolResult:
    old, new, replace_all = change
    check_regular(path, raw, shown)
    try:
        original = load_text(path, shown)
    except PermissionError:
        raise ToolError(f"{shown}: permission denied") from None
    old, new = _line_endings(original, old, new)
    if old == new:
        raise ToolError("old_string and new_string differ only in line endings")
    outcome = apply_edit(shown, original.text, old, new, replace_all)
    display = region_diff(original.text, outcome.text, outcome.spans, shown)
    original.text = ""  # let the old text go: the file is written from one copy, the new
    write(path, original.chunks(outcome.text), shown, mode=original.mode)
    content = _summary(shown, outcome)
    if outcome.count == 1 and (shown_lines := snippet(outcome.text, outcome.spans[0])):
        content += "\n" + shown_lines
    return ToolResult(
        truncate(content),
        display=display,
        metadata={
            "replacements": outcome.count,
            "whitespace_tolerant": outcome.tolerant,
            "first_line": outcome.first_line,
        },
    )


def _line_endings(original: TextFile, old: str, new: str) -> tuple[str, str]:
    """old_string and new_string with LF endings when the text being edited has them."""
    if original.crlf or "\r" not in original.text:
        return old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
    return old, new


def _summary(shown: str, outcome: EditOutcome) -> str:
    if outcome.count > 1:
        summary = f"Edited {shown}: replaced {outcome.count} occurrences."
    else:
        span = (
            f"line {outcome.first_line}"
            if outcome.last_line <= outcome.first_line
            else f"lines {outcome.first_line}-{outcome.last_line}"
        )
        summary = f"Edited {shown}: replaced 1 occurrence ({span} now)."
    if outcome.tolerant:
        summary += (
            " old_string did not match exactly; it matched one region when whitespace is "
            "ignored, and new_string was re-indented to the file's indentation."
        )
    return summary
