"""Renderers: each takes stream events and draws them; none of them talks to a provider."""

from __future__ import annotations

import sys
from typing import IO, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from codive_cli.agent import AgentEvent, ToolFinished, ToolStarted
from codive_cli.provider import (
    Done,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
)
from codive_cli.ui import tools as tool_view


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
        import json

        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()

    def on_event(self, event: AgentEvent) -> None:
        match event:
            case TextDelta(text=text):
                self.emit({"type": "text", "text": text})
            case ThinkingDelta(text=text) if text:
                self.emit({"type": "thinking", "text": text})
            case ToolStarted(call=call):
                self.emit(
                    {
                        "type": "tool_call",
                        "id": call.id,
                        "name": call.name,
                        "arguments": call.arguments,
                    }
                )
            case ToolFinished(call=call, result=result):
                self.emit(
                    {
                        "type": "tool_result",
                        "id": call.id,
                        "name": call.name,
                        "result": result.content,
                        "is_error": result.is_error,
                    }
                )
            case Done(usage=usage, stop_reason=reason):
                self.emit(
                    {
                        "type": "usage",
                        "input_tokens": usage.input_tokens,
                        "output_tokens": usage.output_tokens,
                        "stop_reason": reason,
                    }
                )
            case _:
                pass

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
    """Markdown that grows in a live region, with a spinner until the first token.

    A tool call ends the current segment: its text stays printed above, the call is shown,
    and the next text starts a new live region.
    """

    def __init__(self, console: Console, refresh_per_second: float = 12) -> None:
        self.console = console
        self.refresh_per_second = refresh_per_second
        self._live: Live | None = None
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._pending: list[str] = []
        self._start()

    def _start(self) -> None:
        self._text, self._thinking, self._pending = [], [], []
        self._live = Live(
            console=self.console,
            refresh_per_second=self.refresh_per_second,
            transient=False,
            vertical_overflow="visible",
            get_renderable=self._view,
        )
        self._live.start()

    def on_event(self, event: AgentEvent) -> None:
        match event:
            case TextDelta(text=text):
                self._ensure_live()
                self._text.append(text)
            case ThinkingDelta(text=text):
                self._ensure_live()
                self._thinking.append(text)
            case ToolCallStart(name=name):
                self._ensure_live()
                self._pending.append(name)
            case ToolStarted():
                self.pause()
            case ToolFinished(call=call, result=result):
                self.pause()
                self.console.print(tool_view.rich_view(call, result))
            case ToolCallDelta() | Done() | StreamError():
                pass

    def _ensure_live(self) -> None:
        if self._live is None:
            self._start()

    def _view(self) -> RenderableType:
        from rich.markdown import Markdown

        parts: list[RenderableType] = []
        thinking = "".join(self._thinking).strip()
        if thinking and not self._text:
            last = thinking.splitlines()[-1][-200:]
            parts.append(Text(f"thinking: {last}", style="dim italic"))
        if self._text:
            parts.append(Markdown("".join(self._text)))
        parts.extend(Text(f"⏺ {name}…", style="cyan") for name in self._pending)
        if not self._text and not self._pending:
            parts.append(Spinner("dots", text=Text("waiting for the model…", style="dim")))
        return Group(*parts)

    def pause(self) -> None:
        """Finish the current region (its text stays on screen) so others can print."""
        if self._live is not None:
            self._pending = []
            if not self._text and not self._thinking:
                self._live.transient = True  # only a spinner: leave nothing behind
            self._live.stop()
            self._live = None

    def close(self) -> None:
        self.pause()
