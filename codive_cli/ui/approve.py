"""Asking the person before a risky tool call: y once, a always, n no (with a reason)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from codive_cli.policy.permissions import Approval, ApprovalRequest
from codive_cli.ui.safe import plain, visible

if TYPE_CHECKING:  # `can_ask` decides first; Rich loads only when a question is shown
    from rich.console import Console

ReadLine = Callable[[str], str]


def describe(request: ApprovalRequest) -> str:
    """One line saying what the call would do."""
    args = request.arguments
    if request.tool == "bash":
        return f"run: {args.get('command', '')}"  # whole: every line of it runs
    if "path" in args:
        return f"{request.tool} {args['path']}"
    return f"{request.tool} {json.dumps(args, ensure_ascii=False)[:200]}"


class TerminalApprover:
    """Asks on the terminal (the turn pauses its live display first: ui/turn.py)."""

    def __init__(self, console: Console, *, read_line: ReadLine = input) -> None:
        self.console = console
        self.read_line = read_line

    async def __call__(self, request: ApprovalRequest) -> Approval:
        self.show(request)
        while True:
            try:
                answer = await asyncio.to_thread(
                    self.read_line, "  [y] yes  [a] always this session  [n] no (n: reason) > "
                )
            except EOFError:
                return Approval(False, reason="no answer")
            verdict = parse_answer(answer)
            if verdict is not None:
                return verdict
            self.console.print("  please answer y, a or n", style="dim")

    def show(self, request: ApprovalRequest) -> None:
        """Exactly what would happen, before the question: the command, or the diff."""
        from rich.syntax import Syntax
        from rich.text import Text

        line = Text.assemble(
            ("? ", "bold yellow"), "codive wants to ", visible(describe(request), strict=True)
        )
        self.console.print(line, soft_wrap=True)
        if request.preview:
            diff = visible(request.preview)
            self.console.print(Syntax(diff, "diff", theme="ansi_dark", word_wrap=True))
        command = request.arguments.get("command")
        if request.tool == "bash" and isinstance(command, str) and command.count("\n") > 2:
            first = command.strip().splitlines()[0]
            lines = len(command.splitlines())
            note = f"  (the command above is {lines} lines long; it starts: {first[:80]})"
            self.console.print(plain(note, style="bold"), soft_wrap=True)
        self.console.print(plain(f"  ({request.reason})", style="dim"), soft_wrap=True)


def parse_answer(answer: str) -> Approval | None:
    text = answer.strip()
    head, _, rest = text.partition(" ")
    head = head.lower().rstrip(":,")
    if head in ("y", "yes"):
        return Approval(True)
    if head in ("a", "always"):
        return Approval(True, always=True)
    if head in ("n", "no"):
        return Approval(False, reason=rest.strip())
    return None


def can_ask() -> bool:
    """A person can be asked only when both stdin and stderr are a terminal."""
    return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()
