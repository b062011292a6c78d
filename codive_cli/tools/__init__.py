"""Built-in tools, the workspace guard and the permission policy.

base.py         Tool, ToolResult, ToolContext, ToolError
guard.py        WorkspaceGuard: every path resolved inside the workspace root
permissions.py  Policy: mode + allow/deny rules + session approvals
bash_rules.py   judging shell commands on a real parse (tree-sitter-bash)
files.py        read_file, write_file, edit_file, list_dir
matching.py     edit_file's exact and whitespace-tolerant matching, re-indenting
search.py       glob, grep (ripgrep when present)
bash.py         bash
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
