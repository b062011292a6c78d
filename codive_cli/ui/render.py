"""Renderers for pipes and files: each takes stream events and writes them; none talks to a
provider. Rich is not loaded here (a piped `codive complete` never needs it); the terminal's
renderer is `ui/live.py`."""

from __future__ import annotations

import os
import sys
from typing import IO, Protocol

from codive_cli.agent.codec import encode_event, json_line
from codive_cli.agent.events import AgentEvent, Compacted
from codive_cli.provider import Retrying, TextDelta


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether Rich would treat `stream` as a terminal (the same environment variables, so a
    choice made here matches the console's): TTY_COMPATIBLE=0/1 decides, then a FORCE_COLOR
    that is set (non-empty: yes), then the stream itself."""
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or not a real file
        return False


def compacted_line(event: Compacted) -> str:
    """What a person is told when a long run's older steps were summarised."""
    return f"compacted: earlier steps summarised; the latest {event.kept} messages kept"


def retry_line(event: Retrying) -> str:
    """`rate limited; retrying in 3 s (2/4)`."""
    return f"{event.reason}; retrying in {event.delay:.0f} s ({event.attempt}/{event.attempts})"


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
