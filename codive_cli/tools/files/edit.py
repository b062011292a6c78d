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
from codive_cli.tools.files.common import check_regular, diff, load_text, resolve
from codive_cli.tools.files.matching import EditOutcome, apply_edit, edited_snippet


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
            text = load_text(path, shown).text
            if "\r" not in text:
                old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
            outcome = apply_edit(shown, text, old, new, arguments.get("replace_all") is True)
            return diff(text, outcome.text, shown) or "(no change)"
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
    text = original.text
    if original.crlf or "\r" not in text:
        # The text is LF now: match and insert LF text.
        old = old.replace("\r\n", "\n")
        new = new.replace("\r\n", "\n")
    if old == new:
        raise ToolError("old_string and new_string differ only in line endings")
    outcome = apply_edit(shown, text, old, new, replace_all)
    write(path, original.encode(outcome.text), shown, mode=original.mode)
    snippet = edited_snippet(outcome.text, outcome.first_line, outcome.last_line)
    content = _summary(shown, outcome)
    content += "\n" + snippet if snippet and outcome.count == 1 else ""
    return ToolResult(
        truncate(content),
        display=diff(text, outcome.text, shown),
        metadata={
            "replacements": outcome.count,
            "whitespace_tolerant": outcome.tolerant,
            "first_line": outcome.first_line,
        },
    )


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
