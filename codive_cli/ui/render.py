"""Renderers: each takes stream events and draws them; none of them talks to a provider."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Protocol

from rich.console import Console
from rich.text import Text

from codive_cli.agent.codec import encode_event, json_line
from codive_cli.agent.events import AgentEvent, ToolFinished, ToolStarted
from codive_cli.provider import (
    Done,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
)
from codive_cli.ui import tools as tool_view
from codive_cli.ui.safe import visible

if TYPE_CHECKING:  # Markdown and the live view load with the first answer on a terminal
    from codive_cli.ui.stream import MarkdownStream


class Renderer(Protocol):
    def on_event(self, event: AgentEvent) -> None: ...

    def pause(self) -> None: ...

    def close(self) -> None: ...


class PlainRenderer:
    """Raw answer text to a pipe or file, as it arrives: no colour, no cursor movement."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self._last = "\n"

    def on_event(self, event: AgentEvent) -> None:
        if isinstance(event, TextDelta) and event.text:
            self.out.write(event.text)
            self.out.flush()
            self._last = event.text[-1]

    def pause(self) -> None:
        pass

    def close(self) -> None:
        if self._last != "\n":
            self.out.write("\n")
        self.out.flush()


class JsonLinesRenderer:
    """`--output-format stream-json`: one JSON object per line, as things happen."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def emit(self, record: dict[str, object]) -> None:
        self.out.write(json_line(record) + "\n")
        self.out.flush()

    def on_event(self, event: AgentEvent) -> None:
        record = encode_event(event)
        if record is not None:
            self.emit(record)

    def pause(self) -> None:
        pass

    def close(self) -> None:
        pass


class SilentRenderer:
    """Draws nothing (for --json, which prints once at the end)."""

    def on_event(self, event: AgentEvent) -> None:
        pass

    def pause(self) -> None:
        pass

    def close(self) -> None:
        pass


class LiveRenderer:
    """A terminal: the answer streams as Markdown (finished blocks print once, only the tail
    is redrawn), thinking collapses to one dim line, tool calls print between segments."""

    def __init__(self, console: Console, refresh_per_second: float = 12) -> None:
        self.console = console
        self.refresh_per_second = refresh_per_second
        self._stream: MarkdownStream | None = None
        self._thinking = 0  # words of reasoning seen in this segment
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
                self._open()
                self._thinking += len(text.split())
            case ToolStarted():
                self.pause()
            case ToolFinished(call=call, result=result):
                self.pause()
                self.console.print(tool_view.rich_view(call, result))
            case ToolCallStart() | ToolCallDelta() | Done() | StreamError():
                pass

    def _flush_thinking(self) -> None:
        if self._thinking:
            words, self._thinking = self._thinking, 0
            if self._stream is not None:  # print above the live region, not inside it
                self._stream.finish()
                self._stream = None
            self.console.print(Text(f"✻ thought for {words} words", style="dim italic"))

    def pause(self) -> None:
        """End the current segment (its text stays on screen) so others can print."""
        self._flush_thinking()
        if self._stream is not None:
            self._stream.finish()
            self._stream = None

    def close(self) -> None:
        self.pause()
