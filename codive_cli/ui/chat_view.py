"""The chat on a console: notes, errors and blocks of text, a spinner, and each turn."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from codive_cli.ui.safe import plain, visible
from codive_cli.ui.turn import Turn


class ConsoleOutput:
    """`ChatOutput` (conversation/chat.py) for a Rich console; every text from outside codive
    (a server's error, a file name) is shown as text, never as markup."""

    def __init__(self, console: Console, turn: Callable[[], Turn]) -> None:
        self.console = console
        self.new_turn = turn
        self.watching = console.is_terminal

    def note(self, text: str, *, fresh_line: bool = False) -> None:
        if fresh_line and self.console.is_terminal:
            self.console.line()  # the terminal echoed ^C where the cursor was
        self.console.print(plain(f"· {text}", "dim"), highlight=False, soft_wrap=True)

    def error(self, message: str) -> None:
        self.console.print(Text.assemble(("error:", "red"), " ", plain(message)), highlight=False)

    def show(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def diff(self, text: str) -> None:
        """A unified diff, coloured like an edit's."""
        self.console.print(Syntax(visible(text), "diff", theme="ansi_dark", word_wrap=True))

    def working(self, message: str) -> AbstractContextManager[object]:
        if not self.console.is_terminal:
            return nullcontext()
        return self.console.status(message)

    def turn(self) -> Turn:
        return self.new_turn()
