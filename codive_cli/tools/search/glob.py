"""The `glob` tool: files by name pattern, newest first."""

from __future__ import annotations

import os
from importlib import resources
from typing import Any, ClassVar

from codive_cli.tools.base import Tool, ToolContext, ToolKind, ToolResult, require_string
from codive_cli.tools.search.budget import Budget, in_thread
from codive_cli.tools.search.globbing import GlobMatcher
from codive_cli.tools.search.ignore import IgnoreRules
from codive_cli.tools.search.rg import pick_backend
from codive_cli.tools.search.scope import OUTPUT_BUDGET, Scope, display_path, resolve_scope

MAX_GLOB_RESULTS = 1000  # glob.md states this number too


class GlobTool(Tool):
    name: ClassVar[str] = "glob"
    description: ClassVar[str] = (
        resources.files(__package__).joinpath("glob.md").read_text("utf-8").strip()
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "Glob such as '**/*.py', '*.{ts,tsx}' or 'src/**/test_*.py'.",
            },
            "path": {
                "type": "string",
                "description": "Folder to search in, relative to the workspace root "
                "(default: the root).",
            },
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "read"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        pattern = require_string(arguments, "pattern")
        matcher = GlobMatcher.compile(pattern)
        scope = resolve_scope(arguments, context, files_ok=False)
        budget = Budget(what="glob")
        files = await pick_backend(IgnoreRules(scope.root), budget).files(scope)
        found = await in_thread(lambda b: _newest_first(matcher, scope, files, b), budget)
        return _glob_result(pattern, scope, found)


def _newest_first(
    matcher: GlobMatcher, scope: Scope, files: list[str], budget: Budget
) -> list[str]:
    """The files the glob matches, most recently modified first."""
    found: list[tuple[float, str]] = []
    for index, rel in enumerate(files):
        if index % 1024 == 0:
            budget.check()
        if not matcher(scope.under(rel)):
            continue
        try:
            mtime = os.stat(os.path.join(scope.root, rel), follow_symlinks=False).st_mtime
        except OSError:
            continue
        found.append((-mtime, rel))
    found.sort()
    return [rel for _, rel in found]


def _glob_result(pattern: str, scope: Scope, found: list[str]) -> ToolResult:
    if not found:
        return ToolResult(
            f"No files match {pattern!r} in {scope.where} (files ignored by .gitignore are "
            "skipped). Try a broader pattern such as '**/*name*'.",
            metadata={"count": 0},
        )
    lines: list[str] = []
    size = 0
    for rel in found[:MAX_GLOB_RESULTS]:
        shown = display_path(rel)
        if size + len(shown) + 1 > OUTPUT_BUDGET:
            break
        lines.append(shown)
        size += len(shown) + 1
    total = len(found)
    header = f"{total} file{'s' if total != 1 else ''} match {pattern!r} in {scope.where}"
    if len(lines) < total:
        header += (
            f"; showing the {len(lines)} most recently modified. Narrow the pattern or the "
            "path to see the others."
        )
    else:
        header += " (newest first):"
    return ToolResult(
        header + "\n" + "\n".join(lines), metadata={"count": total, "shown": len(lines)}
    )
