"""One-line notes on stderr: usage and cost after an answer, warnings, errors."""

from __future__ import annotations

import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from codive_cli.agent.loop import RunResult
from codive_cli.conversation.spend import usage_line
from codive_cli.provider import ModelInfo, Provider, ToolCall
from codive_cli.tools.base import ToolResult
from codive_cli.ui.render import is_terminal
from codive_cli.ui.safe import plain, visible

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")


class Reporter:
    """Writes to stderr; the usage line only when a person is watching (a terminal).

    With no console the lines go to stderr as plain text, which is what Rich would write to a
    pipe, without loading Rich: `stderr_reporter` gives a piped run that one.
    """

    def __init__(self, console: Console | None) -> None:
        self.console = console

    @property
    def is_terminal(self) -> bool:
        return self.console is not None and self.console.is_terminal

    def _line(self, text: str, style: str) -> None:
        if self.console is None:
            sys.stderr.write(visible(text) + "\n")
            sys.stderr.flush()
        else:
            self.console.print(plain(text, style), soft_wrap=True)

    def warn(self, message: str) -> None:
        self._line(f"warning: {message}", "yellow")

    def note(self, message: str) -> None:
        self._line(f"codive: {message}", "dim")

    async def while_waiting(self, work: Awaitable[T], message: str) -> T:
        """Await `work` behind a spinner when stderr is a terminal."""
        if self.console is None or not self.is_terminal:
            return await work
        with self.console.status(message, spinner="dots"):
            return await work

    async def while_starting(self, provider: Provider) -> None:
        await self.while_waiting(provider.start(), f"starting {provider.config.display_name}")

    def tool(self, call: ToolCall, result: ToolResult) -> None:
        from codive_cli.ui.tools import plain as tool_line

        self._line(tool_line(call, result), "dim")

    def outcome(self, response: RunResult, info: ModelInfo | None) -> None:
        if response.stopped_by == "max_cost":
            self.warn("stopped: another model call would pass --max-cost")
        if response.stopped_by == "max_steps":
            self.warn(
                f"stopped after {response.steps} model call{'' if response.steps == 1 else 's'}"
                " (--max-steps); "
                "the task may be unfinished"
            )
        if response.stop_reason == "max_tokens":
            self.warn("the answer was cut off at the token limit; raise --max-tokens for more")
        elif response.stop_reason == "refusal":
            self.warn("the model declined to answer")
        for name in response.truncated_tool_calls:
            self.warn(f"the call to {name} was cut off by the token limit and was not run")
        if self.console is not None and self.is_terminal:
            model = response.model or (info.id if info else "model")
            line = usage_line(response.usage, model, info)
            self.console.print(line, style="dim", markup=False, soft_wrap=True)


def stderr_reporter() -> Reporter:
    """A reporter on stderr: Rich's console on a terminal, plain lines on a pipe."""
    if not is_terminal(sys.stderr):
        return Reporter(None)
    from rich.console import Console

    return Reporter(Console(stderr=True, highlight=False))
