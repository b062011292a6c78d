"""The terminal's renderer: the answer streams as Markdown, tool calls print between parts."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from codive_cli.agent.events import AgentEvent, Compacted, ToolFinished, ToolStarted
from codive_cli.provider import (
    Done,
    Retrying,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
)
from codive_cli.ui import tools as tool_view
from codive_cli.ui.render import compacted_line, retry_line
from codive_cli.ui.safe import visible

if TYPE_CHECKING:  # Markdown and the live view load with the first answer on a terminal
    from codive_cli.ui.stream import MarkdownStream


class LiveRenderer:
    """A terminal: the answer streams as Markdown (finished blocks print once, only the tail
    is redrawn), thinking collapses to one dim line, tool calls print between segments."""

    def __init__(
        self, console: Console, refresh_per_second: float = 12, *, thinking_hint: str = ""
    ) -> None:
        self.console = console
        self.refresh_per_second = refresh_per_second
        self.thinking_hint = thinking_hint  # how to see a collapsed reasoning again
        self._stream: MarkdownStream | None = None
        self._thinking = ""  # the reasoning of this segment, shown while it streams
        self._running: dict[str, tuple[ToolStarted, float]] = {}  # call id -> (event, start)
        self._live: Live | None = None  # the running calls' view
        self._open()

    def _open(self) -> MarkdownStream:
        if self._stream is None:
            from codive_cli.ui.stream import MarkdownStream

            self._stream = MarkdownStream(self.console, refresh_per_second=self.refresh_per_second)
        return self._stream

    def on_event(self, event: AgentEvent) -> None:
        match event:
            case TextDelta(text=text):
                self._flush_thinking()
                self._open().feed(visible(text))  # a terminal: no escape codes from the model
            case ThinkingDelta(text=text):
                self._thinking += text
                self._open().think(visible(self._thinking))
            case Retrying():
                self._open().notice = retry_line(event)
            case ToolStarted(call=call):
                self.pause()
                self._running[call.id] = (event, time.monotonic())
                self._watch()
            case ToolFinished(call=call, result=result):
                self._running.pop(call.id, None)
                self.pause()
                self.console.print(tool_view.rich_view(call, result))
                if self._running:
                    self._watch()
            case Compacted():
                self.pause()
                self.console.print(Text(compacted_line(event), style="dim"))
            case ToolCallStart() | ToolCallDelta() | Done() | StreamError():
                pass

    def _flush_thinking(self) -> None:
        """Collapse the reasoning to one line once the answer (or a tool call) begins."""
        if self._thinking:
            words, self._thinking = len(self._thinking.split()), ""
            if self._stream is not None:  # print above the live region, not inside it
                self._stream.finish()
                self._stream = None
            hint = f" ({self.thinking_hint})" if self.thinking_hint else ""
            line = f"✻ thought for {words} word{'' if words == 1 else 's'}{hint}"
            self.console.print(Text(line, style="dim italic"))

    def _watch(self) -> None:
        """Show the running calls, redrawn a few times a second until they finish."""
        if self._live is None:
            self._live = Live(
                get_renderable=self._running_view,
                console=self.console,
                refresh_per_second=4,
                transient=True,  # replaced by each call's final view when it ends
            )
            self._live.start()

    def _running_view(self) -> RenderableType:
        now = time.monotonic()
        views = [
            tool_view.running_view(started.call, now - since, started.output())
            for started, since in self._running.values()
        ]
        return Group(*views)

    def pause(self) -> None:
        """End the current segment (its text stays on screen) so others can print."""
        if self._live is not None:
            live, self._live = self._live, None
            with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                live.stop()
        self._flush_thinking()
        if self._stream is not None:
            self._stream.finish()
            self._stream = None

    def close(self) -> None:
        self.pause()
