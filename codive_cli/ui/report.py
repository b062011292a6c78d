"""One-line notes on stderr: usage and cost after an answer, warnings, errors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from rich.console import Console

from codive_cli.agent.loop import RunResult
from codive_cli.conversation.spend import usage_line
from codive_cli.provider import ModelInfo, Provider, ToolCall
from codive_cli.tools.base import ToolResult
from codive_cli.ui.safe import plain

T = TypeVar("T")


class Reporter:
    """Writes to stderr; the usage line only when a person is watching (a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def warn(self, message: str) -> None:
        self.console.print(plain(f"warning: {message}", "yellow"), soft_wrap=True)

    def note(self, message: str) -> None:
        self.console.print(plain(f"codive: {message}", "dim"), soft_wrap=True)

    async def while_waiting(self, work: Awaitable[T], message: str) -> T:
        """Await `work` behind a spinner when stderr is a terminal."""
        if not self.console.is_terminal:
            return await work
        with self.console.status(message, spinner="dots"):
            return await work

    async def while_starting(self, provider: Provider) -> None:
        await self.while_waiting(provider.start(), f"starting {provider.config.display_name}")

    def tool(self, call: ToolCall, result: ToolResult) -> None:
        from codive_cli.ui.tools import plain

        self.console.print(plain(call, result), style="dim", markup=False, soft_wrap=True)

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
        if self.console.is_terminal:
            model = response.model or (info.id if info else "model")
            line = usage_line(response.usage, model, info)
            self.console.print(line, style="dim", markup=False, soft_wrap=True)
