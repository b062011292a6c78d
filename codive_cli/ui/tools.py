"""How tool calls look: one line for the call, a short summary of its result."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from codive_cli.provider import ToolCall
from codive_cli.tools.base import ToolResult
from codive_cli.ui.safe import visible

if TYPE_CHECKING:  # the text lines serve pipes too; Rich loads only for the terminal's views
    from rich.console import RenderableType

_KEY_ARGUMENT = {"bash": "command", "grep": "pattern", "glob": "pattern"}


def call_line(call: ToolCall) -> str:
    """`read_file(src/app.py)`, `bash(make test)`: the name and the argument that matters."""
    key = _KEY_ARGUMENT.get(call.name, "path")
    value = call.arguments.get(key)
    if value is None:
        shown = json.dumps(call.arguments, ensure_ascii=False)
    else:
        shown = " ".join(str(value).split())
    if len(shown) > 100:
        shown = shown[:99] + "…"
    return visible(f"{call.name}({shown})")


def result_summary(result: ToolResult, lines: int = 5) -> str:
    """The last lines of a command's output, or the first line of anything else."""
    text = visible((result.content or "").strip("\n"))
    rows = text.splitlines()
    if not rows:
        return "(no output)"
    if "exit_code" in result.metadata or result.metadata.get("timed_out"):
        tail = rows[-lines:]
        more = len(rows) - len(tail)
        return (f"… {more} more lines\n" if more else "") + "\n".join(tail)
    first = rows[0] if len(rows[0]) <= 160 else rows[0][:159] + "…"
    return first + (f" (+{len(rows) - 1} lines)" if len(rows) > 1 else "")


def plain(call: ToolCall, result: ToolResult) -> str:
    """One line for stderr when no person watches the output (pipes, --json)."""
    status = "error" if result.is_error else "ok"
    first = result_summary(result).splitlines()[-1] if result.content else ""
    return f"tool {call_line(call)}: {status}" + (f": {first}" if result.is_error else "")


def rich_view(call: ToolCall, result: ToolResult) -> RenderableType:
    """The terminal view: call line, then a diff for edits or a summary for the rest."""
    from rich.console import Group
    from rich.text import Text

    head = Text("⏺ ", style="red" if result.is_error else "green")
    head.append(call_line(call), style="bold")
    if result.display and not result.is_error:
        diff = visible(result.display)
        from rich.syntax import Syntax  # pygments: only once a diff is shown

        return Group(head, Syntax(diff, "diff", theme="ansi_dark", word_wrap=True))
    body = Text("  ⎿ " + result_summary(result).replace("\n", "\n    "))
    body.stylize("red" if result.is_error else "dim")
    return Group(head, body)


def running_view(call: ToolCall, elapsed: float, output: str, lines: int = 5) -> RenderableType:
    """A call that is still running: its line, how long it has run, its latest output."""
    from rich.console import Group
    from rich.text import Text

    head = Text("⏺ ", style="yellow")
    head.append(call_line(call), style="bold")
    status = Text(f"  ⎿ running {elapsed:.1f} s · Ctrl-C stops it", style="dim")
    rows = visible(output.rstrip("\n")).splitlines()[-lines:]
    tail = Text("\n".join(f"    {row[:200]}" for row in rows), style="dim")
    return Group(head, status, tail) if rows else Group(head, status)
