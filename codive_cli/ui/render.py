"""Renderers: each takes stream events and draws them; none of them talks to a provider."""

from __future__ import annotations

import sys
from typing import IO, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from codive_cli.provider import (
    Done,
    StreamError,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
)


class Renderer(Protocol):
    def on_event(self, event: StreamEvent) -> None: ...

    def close(self) -> None: ...


class PlainRenderer:
    """Raw answer text to a pipe or file, as it arrives: no colour, no cursor movement."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self._last = "\n"

    def on_event(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta) and event.text:
            self.out.write(event.text)
            self.out.flush()
            self._last = event.text[-1]

    def close(self) -> None:
        if self._last != "\n":
            self.out.write("\n")
        self.out.flush()


class SilentRenderer:
    """Draws nothing (for --json, which prints once at the end)."""

    def on_event(self, event: StreamEvent) -> None:
        pass

    def close(self) -> None:
        pass


class LiveRenderer:
    """Markdown that grows in a live region, with a spinner until the first token."""

    def __init__(self, console: Console, refresh_per_second: float = 12) -> None:
        self.console = console
        self._text: list[str] = []
        self._thinking: list[str] = []
        self._tools: list[str] = []
        self._live = Live(
            self._view(),
            console=console,
            refresh_per_second=refresh_per_second,
            transient=False,
            vertical_overflow="visible",
            get_renderable=self._view,
        )
        self._live.start()

    def on_event(self, event: StreamEvent) -> None:
        match event:
            case TextDelta(text=text):
                self._text.append(text)
            case ThinkingDelta(text=text):
                self._thinking.append(text)
            case ToolCallStart(name=name):
                self._tools.append(name)
            case ToolCallDelta() | Done() | StreamError():
                pass

    def _view(self) -> RenderableType:
        from rich.markdown import Markdown

        parts: list[RenderableType] = []
        thinking = "".join(self._thinking).strip()
        if thinking and not self._text:
            last = thinking.splitlines()[-1][-200:]
            parts.append(Text(f"thinking: {last}", style="dim italic"))
        if self._text:
            parts.append(Markdown("".join(self._text)))
        parts.extend(Text(f"⏺ {name}", style="cyan") for name in self._tools)
        if not self._text and not self._tools:
            parts.append(Spinner("dots", text=Text("waiting for the model…", style="dim")))
        return Group(*parts)

    def close(self) -> None:
        self._live.stop()
