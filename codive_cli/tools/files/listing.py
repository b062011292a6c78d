"""list_dir: one folder's entries, with sizes, link targets and what .gitignore ignores."""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from codive_cli.tools.base import (
    Tool,
    ToolContext,
    ToolError,
    ToolKind,
    ToolResult,
    describe_from,
    optional,
)
from codive_cli.tools.files.common import OUTPUT_BUDGET, missing, resolve
from codive_cli.tools.search import IgnoreRules

MAX_LIST_ENTRIES = 1000


class ListDirTool(Tool):
    name: ClassVar[str] = "list_dir"
    description: ClassVar[str] = describe_from(
        __package__, "list_dir.md", MAX_LIST_ENTRIES=MAX_LIST_ENTRIES
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {
                "type": "string",
                "description": "Folder to list, relative to the workspace root (default '.').",
            },
        },
        "required": [],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "read"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        raw = optional(arguments, "path", str) or "."
        path, shown = resolve(context, raw)
        return await asyncio.to_thread(_list, path, raw, shown, str(context.root))


@dataclass
class _Listing:
    """The lines shown, within bounds, and counts of everything in the folder."""

    lines: list[str] = field(default_factory=list)
    used: int = 0  # characters of the lines shown
    dirs: int = 0
    files: int = 0
    ignored: int = 0

    def add(self, line: str) -> None:
        if len(self.lines) < MAX_LIST_ENTRIES and self.used + len(line) + 1 <= OUTPUT_BUDGET:
            self.lines.append(line)
            self.used += len(line) + 1


def _list(path: Path, raw: str, shown: str, root: str) -> ToolResult:
    entries = _entries(path, raw, shown)
    rules = IgnoreRules(root)
    folder_ignored = rules.ignored(path)
    chain = rules.chain(str(path))
    listing = _Listing()
    for entry in entries:
        line, is_dir = _describe(entry)
        if is_dir:
            listing.dirs += 1
        else:
            listing.files += 1
        if not folder_ignored and entry.name != ".git" and rules.matched(entry.path, is_dir, chain):
            listing.ignored += 1
            line += "  [ignored]"
        listing.add(line)
    header = _header(shown, listing, folder_ignored)
    if not entries:
        return ToolResult(header + "\n(empty folder)", metadata={"entries": 0})
    total, lines = len(entries), listing.lines
    body = "\n".join(lines)
    if len(lines) < total:
        body += (
            f"\n... {total - len(lines)} more entries not shown; use glob with a pattern to "
            "find specific files"
        )
    return ToolResult(header + "\n" + body, metadata={"entries": total, "shown": len(lines)})


def _entries(path: Path, raw: str, shown: str) -> list[os.DirEntry[str]]:
    """The folder's entries sorted by name (case-insensitively first)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise missing(raw, path, shown) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ToolError(f"{shown} is a file, not a folder; use read_file to read it")
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: (e.name.lower(), e.name))
    except PermissionError:
        raise ToolError(f"{shown}: permission denied") from None


def _describe(entry: os.DirEntry[str]) -> tuple[str, bool]:
    """An entry's line (folders end in '/', files give their size, links their target), and
    whether it is a folder."""
    try:
        is_link = entry.is_symlink()
        is_dir = entry.is_dir(follow_symlinks=False)
    except OSError:
        is_link, is_dir = False, False
    if is_dir:
        return entry.name + "/", True
    if is_link:
        try:
            target = os.readlink(entry.path)
        except OSError:
            target = "?"
        kind = "/" if entry.is_dir() else ""
        return f"{entry.name}{kind} -> {target}", False
    try:
        return f"{entry.name}  ({_size(entry.stat(follow_symlinks=False).st_size)})", False
    except OSError:
        return entry.name, False


def _header(shown: str, listing: _Listing, folder_ignored: bool) -> str:
    dirs, files = listing.dirs, listing.files
    header = f"{shown}/ ({dirs} folder{'s' if dirs != 1 else ''}, {files} file"
    header += f"{'s' if files != 1 else ''}"
    if listing.ignored:
        header += f"; {listing.ignored} ignored by .gitignore, marked [ignored]"
    header += ")"
    if folder_ignored:
        header += " - this folder is itself ignored by .gitignore"
    return header


def _size(num: int) -> str:
    if num < 1024:
        return f"{num} B"
    value = float(num)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{num} B"  # pragma: no cover
