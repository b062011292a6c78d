"""Reading a session file forgivingly: torn lines, glued records, unanswered tool calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from codive_cli.agent.codec import decode_message, typed_field
from codive_cli.agent.compaction import rebuild
from codive_cli.provider import ChatMessage, Usage

VERSION = 1
INTERRUPTED_RESULT = "interrupted: codive stopped before this call finished"
TITLE_LENGTH = 60
HEADER_KEYS = frozenset({"type", "version", "id", "created", "workspace"})
_RECORD_START = '{"type":'


def title_of(text: str) -> str:
    """A session's title: the first user message, on one line, at most 60 characters."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def compacted(
    messages: list[ChatMessage], interrupted: set[int], summary: str, keep: int
) -> tuple[list[ChatMessage], set[int]]:
    """Every system message, the summary, then the latest `keep` other messages."""
    system = [i for i, message in enumerate(messages) if message.role == "system"]
    rest = [i for i, message in enumerate(messages) if message.role != "system"]
    recent = rest[max(len(rest) - keep, 0) :]
    order = [*system, -1, *recent]  # -1 stands for the summary
    new = rebuild([messages[i] for i in system], summary, [messages[i] for i in recent])
    return new, {at for at, i in enumerate(order) if i in interrupted}


def _at_or_after(checkpoint: dict[str, Any], keep: int) -> bool:
    at = checkpoint.get("at")
    return type(at) is int and at >= keep


def add_usage(total: Usage, data: dict[str, Any]) -> Usage:
    """`total` plus the counts of a usage record (other keys and non-integers ignored)."""
    counts: dict[str, int] = {k: v for k, v in data.items() if k in vars(total) and type(v) is int}
    return total + Usage(**counts)


def _records(data: bytes, warnings: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, JSON value) for every record that can be read; warnings for the rest."""
    lines = data.split(b"\n")  # only \n: U+2028 and friends may sit raw inside strings
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        cut = " (the last write was cut short)" if number == len(lines) else ""
        if b"\0" in raw:
            warnings.append(f"line {number}: NUL bytes{cut}, skipped")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            warnings.append(f"line {number}: not valid UTF-8{cut}, skipped")
            continue
        for value in _split_line(text, number, cut, warnings):
            yield number, value


def _split_line(text: str, number: int, cut: str, warnings: list[str]) -> list[Any]:
    """The JSON values on one line: usually one, two when a write lost its newline."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    at = 0
    while True:
        while at < len(text) and text[at] in " \t\r":
            at += 1
        if at >= len(text):
            return values
        try:
            value, at = decoder.raw_decode(text, at)
        except (ValueError, RecursionError):
            resume = text.find(_RECORD_START, at + 1)
            if resume < 0:
                where = f" from column {at + 1}" if at else ""
                warnings.append(f"line {number}: not valid JSON{where}{cut}, skipped")
                return values
            warnings.append(f"line {number}: not valid JSON at columns {at + 1}-{resume}, skipped")
            at = resume
            continue
        values.append(value)


class Replay:
    """Rebuilds a conversation from its records, repairing what a crash left behind."""

    def __init__(self) -> None:
        self.header: dict[str, Any] | None = None
        self.messages: list[ChatMessage] = []
        self.interrupted: set[int] = set()
        self.warnings: list[str] = []
        self.title = ""
        self.usage = Usage()
        self.meta: dict[str, Any] = {}
        self.unsaved: list[ChatMessage] = []  # repairs at the end, not yet in the file
        self.checkpoints: list[dict[str, Any]] = []  # turns that changed files (/undo)
        self._open_calls: dict[str, int] = {}  # call id -> line of the assistant message

    def read(self, data: bytes) -> Replay:
        for number, record in _records(data, self.warnings):
            self.feed(number, record)
        count = len(self.messages)
        self.close_calls()
        self.unsaved = self.messages[count:]
        if self.header is None:
            self.warnings.insert(0, "no session header (line 1 is missing or damaged)")
        return self

    def feed(self, number: int, record: Any) -> None:
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            self.warnings.append(f"line {number}: not a record object, skipped")
            return
        kind = record["type"]
        try:
            if kind == "session":
                self._header(number, record)
            elif kind == "message":
                self._message(number, record)
            elif kind == "compact":
                self._compact(record)
            elif kind == "usage":
                self.usage = add_usage(self.usage, record)
            elif kind == "model":
                self.meta.update((k, v) for k, v in record.items() if k != "type")
            elif kind in ("rewind", "checkpoint", "undo"):
                self._checkpoint(kind, record)
            # other kinds belong to other readers (or a newer codive): kept in the file only
        except ValueError as error:
            self.warnings.append(f"line {number}: bad {kind} record ({error}), skipped")

    def _header(self, number: int, record: dict[str, Any]) -> None:
        if self.header is not None:
            self.warnings.append(f"line {number}: a second session header, ignored")
            return
        self.header = record
        self.meta = {k: v for k, v in record.items() if k not in HEADER_KEYS} | self.meta
        version = record.get("version")
        if isinstance(version, int) and version > VERSION:
            self.warnings.append(
                f"written by a newer codive (format {version}); unknown parts are ignored"
            )

    def _message(self, number: int, record: dict[str, Any]) -> None:
        message = decode_message(record.get("message"))
        if message.role == "tool":
            if message.tool_call_id not in self._open_calls:
                self.warnings.append(f"line {number}: tool result for no open call, dropped")
                return
            del self._open_calls[message.tool_call_id]
        else:
            self.close_calls()
        if record.get("interrupted") is True:
            self.interrupted.add(len(self.messages))
        self.messages.append(message)
        if message.role == "assistant":
            self._open_calls = {call.id: number for call in message.tool_calls}
        if message.role == "user" and not self.title:
            self.title = title_of(message.content)

    def _compact(self, record: dict[str, Any]) -> None:
        summary = typed_field(record, "summary", str)
        keep = typed_field(record, "keep", int)
        self.close_calls()
        self.messages, self.interrupted = compacted(
            self.messages, self.interrupted, summary, max(keep, 0)
        )
        self.checkpoints = [{**c, "at": None} for c in self.checkpoints]

    def _checkpoint(self, kind: str, record: dict[str, Any]) -> None:
        """`checkpoint` (a turn changed files), `undo` (the latest one's files were put back)
        and `rewind` (conversation and files back to before the message at `keep`; with
        `"files": false` the conversation only: /edit, a failed turn)."""
        if kind == "checkpoint":
            self.checkpoints.append(record)
        elif kind == "undo":
            self.checkpoints = self.checkpoints[:-1]
        else:
            keep = max(typed_field(record, "keep", int), 0)
            self.messages = self.messages[:keep]
            self.interrupted = {i for i in self.interrupted if i < keep}
            self._open_calls = {}
            if record.get("files") is not False:  # the files went back too
                self.checkpoints = [c for c in self.checkpoints if not _at_or_after(c, keep)]

    def close_calls(self) -> None:
        """Answer the calls that never got a result, so the next request is valid."""
        if not self._open_calls:
            return
        number = next(iter(self._open_calls.values()))
        for call_id in self._open_calls:
            self.messages.append(
                ChatMessage("tool", INTERRUPTED_RESULT, tool_call_id=call_id, is_error=True)
            )
        self.warnings.append(
            f"line {number}: {len(self._open_calls)} tool call(s) had no result"
            " (codive stopped first); marked as interrupted"
        )
        self._open_calls = {}
