"""The built-in tools (and MCP servers' tools), each a `Tool` from base.py.

The rules they run under live in `codive_cli.policy`; the tools only do the work.
"""

from __future__ import annotations

from codive_cli.tools.base import Tool


def builtin_tools() -> list[Tool]:
    """One instance of each built-in tool, in the order models see them."""
    from codive_cli.tools.bash import BashTool
    from codive_cli.tools.files import EditFileTool, ListDirTool, ReadFileTool, WriteFileTool
    from codive_cli.tools.search import GlobTool, GrepTool

    return [
        ReadFileTool(),
        WriteFileTool(),
        EditFileTool(),
        ListDirTool(),
        GlobTool(),
        GrepTool(),
        BashTool(),
    ]
