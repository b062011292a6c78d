"""The `grep` tool: lines matching a regex, in path order, secrets left out."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from codive_cli.tools.base import (
    Tool,
    ToolContext,
    ToolError,
    ToolKind,
    ToolResult,
    require_string,
)
from codive_cli.tools.search.backend import GrepQuery, Matches
from codive_cli.tools.search.budget import Budget
from codive_cli.tools.search.globbing import GlobMatcher
from codive_cli.tools.search.ignore import IgnoreRules
from codive_cli.tools.search.rg import pick_backend
from codive_cli.tools.search.scope import (
    OUTPUT_BUDGET,
    Scope,
    display_path,
    optional_string,
    resolve_scope,
)

MAX_GREP_MATCHES = 500  # grep.md states this number too


class GrepTool(Tool):
    name: ClassVar[str] = "grep"
    description: ClassVar[str] = (
        resources.files(__package__).joinpath("grep.md").read_text("utf-8").strip()
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "pattern": {
                "type": "string",
                "description": "Regular expression, e.g. 'def \\w+_config' or 'TODO|FIXME'.",
            },
            "path": {
                "type": "string",
                "description": "Folder or file to search, relative to the workspace root "
                "(default: the root).",
            },
            "glob": {
                "type": "string",
                "description": "Only search files matching this glob, e.g. '*.py' or "
                "'src/**/*.ts' (relative to path).",
            },
            "ignore_case": {
                "type": "boolean",
                "description": "Case-insensitive matching (default false).",
            },
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }
    kind: ClassVar[ToolKind] = "read"

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        pattern = require_string(arguments, "pattern")
        if pattern == "":
            raise ToolError("pattern is empty: give a regular expression to search for")
        glob = optional_string(arguments, "glob")
        ignore_case = arguments.get("ignore_case", False)
        if not isinstance(ignore_case, bool):
            raise ToolError("ignore_case must be true or false")
        matcher = GlobMatcher.compile(glob) if glob else None
        scope = resolve_scope(arguments, context, files_ok=True)
        backend = pick_backend(IgnoreRules(scope.root), Budget(what="grep"))
        query = GrepQuery(pattern, ignore_case, matcher, MAX_GREP_MATCHES)
        matches = await backend.search(scope, query)
        hidden = _drop_secrets(matches, scope, context)
        result = _grep_result(pattern, scope, matches)
        if hidden:
            result.content += (
                f"\n[matches in {', '.join(hidden)} were left out: such files may hold "
                "secrets; read_file one to ask the user for access]"
            )
        return result


def _drop_secrets(matches: Matches, scope: Scope, context: ToolContext) -> list[str]:
    """Leave out lines from files that may hold secrets unless the mode allows them."""
    guard = context.guard
    if context.allow_secrets or guard is None:
        return []
    hidden: dict[str, None] = {}
    kept = []
    for item in matches.items:
        if guard.is_secret(Path(scope.root) / item[0]):
            hidden[display_path(item[0])] = None
        else:
            kept.append(item)
    matches.items = kept
    return list(hidden)


def _grep_result(pattern: str, scope: Scope, matches: Matches) -> ToolResult:
    if not matches.items:
        return ToolResult(
            f"No matches for {pattern!r} in {scope.where} (files ignored by .gitignore and "
            "binary files are skipped).",
            metadata={"count": 0, "backend": matches.backend},
        )
    lines: list[str] = []
    size = 0
    for rel, number, text in matches.items:
        line = f"{display_path(rel)}:{number}: {text}"
        if size + len(line) + 1 > OUTPUT_BUDGET:
            break
        lines.append(line)
        size += len(line) + 1
    more = matches.more or len(lines) < len(matches.items)
    body = "\n".join(lines)
    if more:
        body += (
            f"\n[showing the first {len(lines)} matching lines; there are more. Narrow the "
            "pattern, path or glob to see the rest.]"
        )
    return ToolResult(
        body, metadata={"count": len(lines), "more": more, "backend": matches.backend}
    )
