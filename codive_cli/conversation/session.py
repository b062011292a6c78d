"""Saved conversations: one JSONL file per session, appended a line at a time, loaded forgivingly.

Each line is one JSON object whose first key is `type`:

    {"type":"session","version":1,"id":"20250301-141502-9f3a",
     "created":"2025-03-01T14:15:02+00:00","workspace":"/home/me/repo","model":"..."}
    {"type":"message","message":{"role":"user","content":"fix the failing test"}}
    {"type":"message","message":{"role":"assistant","content":"","tool_calls":[
     {"id":"c1","name":"read_file","arguments":{"path":"a.py"}}]}}
    {"type":"message","message":{"role":"tool","content":"...","tool_call_id":"c1"}}
    {"type":"message","message":{"role":"assistant","content":"The te"},"interrupted":true}
    {"type":"compact","summary":"The user asked ...","keep":4}
    {"type":"usage","model":"...","input_tokens":812,"output_tokens":95}
    {"type":"model","provider":"openai","model":"gpt-4o"}

(The first and third records are wrapped here; in the file every record is one line.)

Writing: every record is one whole line, handed to a single `os.write` on an `O_APPEND`
descriptor, so a killed codive never leaves half a line of its own; `sync` (once per turn)
makes the turn durable. A session is written by one codive at a time: it holds an exclusive
lock on the file from its first write (or from `create`, or a `load(..., lock=True)`) until it
closes, and another codive that wants to go on with it gets `SessionBusy` and can `fork` it.
Loading never fails on content: a torn or corrupt line is skipped with a warning naming its
line, two records glued on one line are both read, and the conversation is repaired so the
model APIs accept it (tool calls left without results get error results).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from codive_cli.conversation import session_lock
from codive_cli.provider import ChatMessage, Role, Thinking, ToolCall, Usage

__all__ = [
    "INTERRUPTED_RESULT",
    "SUMMARY_PREFIX",
    "Session",
    "SessionBusy",
    "SessionInfo",
    "SessionStore",
    "decode_message",
    "default_root",
    "encode_message",
]

VERSION = 1
SUMMARY_PREFIX = "Summary of the earlier conversation:\n"  # as in context.py
INTERRUPTED_RESULT = "interrupted: codive stopped before this call finished"
TITLE_LENGTH = 60
_ROLES = ("system", "user", "assistant", "tool")
_HEADER_KEYS = frozenset({"type", "version", "id", "created", "workspace"})
_OWN_KINDS = frozenset({"session", "message", "compact"})  # written by Session itself
_RECORD_START = '{"type":'
_BINARY = getattr(os, "O_BINARY", 0)  # Windows would translate newlines otherwise


def default_root() -> Path:
    """Where sessions live: `sessions` under the platform's user data dir."""
    from platformdirs import user_data_path

    return user_data_path("codive", appauthor=False) / "sessions"


# --- messages <-> JSON -----------------------------------------------------------------------


def encode_message(message: ChatMessage) -> dict[str, Any]:
    """A JSON-safe dict that `decode_message` turns back into an equal message.

    Fields at their default are left out, so old files stay readable as fields are added.
    """
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_call_id is not None:
        data["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        data["tool_calls"] = [_encode_call(call) for call in message.tool_calls]
    if message.is_error:
        data["is_error"] = True
    if message.thinking:
        data["thinking"] = [_encode_thinking(block) for block in message.thinking]
    return data


def _encode_call(call: ToolCall) -> dict[str, Any]:
    data: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    if call.arguments_error is not None:
        data["arguments_error"] = call.arguments_error
    return data


def _encode_thinking(block: Thinking) -> dict[str, Any]:
    data: dict[str, Any] = {"text": block.text}
    if block.signature is not None:
        data["signature"] = block.signature
    if block.redacted_data is not None:
        data["redacted_data"] = block.redacted_data
    return data


def decode_message(data: dict[str, Any]) -> ChatMessage:
    """The message `encode_message` made; ValueError when the shape is wrong.

    Unknown keys are ignored, so a file written by a newer codive still loads.
    """
    data = _object(data, "message")
    role = data.get("role")
    if role not in _ROLES:
        raise ValueError(f"unknown role {role!r}")
    return ChatMessage(
        role=cast(Role, role),
        content=_field(data, "content", str, ""),
        tool_call_id=_field(data, "tool_call_id", (str, type(None)), None),
        tool_calls=tuple(_decode_call(item) for item in _field(data, "tool_calls", list, [])),
        is_error=_field(data, "is_error", bool, False),
        thinking=tuple(_decode_thinking(item) for item in _field(data, "thinking", list, [])),
    )


def _decode_call(data: Any) -> ToolCall:
    data = _object(data, "tool call")
    return ToolCall(
        id=_field(data, "id", str),
        name=_field(data, "name", str),
        arguments=_field(data, "arguments", dict, {}),
        arguments_error=_field(data, "arguments_error", (str, type(None)), None),
    )


def _decode_thinking(data: Any) -> Thinking:
    data = _object(data, "thinking block")
    return Thinking(
        text=_field(data, "text", str, ""),
        signature=_field(data, "signature", (str, type(None)), None),
        redacted_data=_field(data, "redacted_data", (str, type(None)), None),
    )


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"a {what} must be a JSON object, not {type(value).__name__}")
    return value


_MISSING: Any = object()


def _field(data: dict[str, Any], key: str, kind: Any, default: Any = _MISSING) -> Any:
    value = data.get(key, default)
    if value is _MISSING:
        raise ValueError(f"{key!r} is missing")
    # bool is an int in Python, not in JSON: a count or a name must not be `true`
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{key!r} has the wrong type ({type(value).__name__})")
    return value


def _line(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (undecodable tool output): escape it
        return (json.dumps(record, separators=(",", ":")) + "\n").encode("ascii")


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def _compacted(
    messages: list[ChatMessage], interrupted: set[int], summary: str, keep: int
) -> tuple[list[ChatMessage], set[int]]:
    """Every system message, the summary, then the latest `keep` other messages."""
    system = [i for i, message in enumerate(messages) if message.role == "system"]
    rest = [i for i, message in enumerate(messages) if message.role != "system"]
    order = [*system, -1, *rest[max(len(rest) - keep, 0) :]]  # -1 stands for the summary
    summary_message = ChatMessage("user", SUMMARY_PREFIX + summary)
    new = [messages[i] if i >= 0 else summary_message for i in order]
    return new, {at for at, i in enumerate(order) if i in interrupted}


def _add_usage(total: Usage, data: dict[str, Any]) -> Usage:
    counts: dict[str, int] = {k: v for k, v in data.items() if k in vars(total) and type(v) is int}
    return total + Usage(**counts)


# --- reading ---------------------------------------------------------------------------------


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


class _Replay:
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
        self._open_calls: dict[str, int] = {}  # call id -> line of the assistant message

    def read(self, data: bytes) -> _Replay:
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
                summary = _field(record, "summary", str)
                keep = _field(record, "keep", int)
                self.close_calls()
                self.messages, self.interrupted = _compacted(
                    self.messages, self.interrupted, summary, max(keep, 0)
                )
            elif kind == "usage":
                self.usage = _add_usage(self.usage, record)
            elif kind == "model":
                self.meta.update((k, v) for k, v in record.items() if k != "type")
            # other kinds belong to other readers (or a newer codive): kept in the file only
        except ValueError as error:
            self.warnings.append(f"line {number}: bad {kind} record ({error}), skipped")

    def _header(self, number: int, record: dict[str, Any]) -> None:
        if self.header is not None:
            self.warnings.append(f"line {number}: a second session header, ignored")
            return
        self.header = record
        self.meta = {k: v for k, v in record.items() if k not in _HEADER_KEYS} | self.meta
        version = record.get("version")
        if isinstance(version, int) and version > VERSION:
            self.warnings.append(
                f"written by a newer codive (format {version}); unknown parts are ignored"
            )

    def _message(self, number: int, record: dict[str, Any]) -> None:
        message = decode_message(_object(record.get("message"), "message"))
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
            self.title = _title(message.content)

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


# --- sessions --------------------------------------------------------------------------------


@dataclass
class SessionInfo:
    """One saved session, as `SessionStore.list` describes it."""

    id: str
    path: Path
    workspace: str
    created: str  # ISO 8601, UTC
    updated: float  # the file's mtime
    title: str  # the first user message, on one line, at most 60 characters
    messages: int


class SessionBusy(Exception):
    """Another codive has the session open. `session` is what the file held when we looked
    (readable, not writable here); `holder` is the other process's pid, when known."""

    def __init__(self, session: Session, holder: int | None) -> None:
        who = f"another codive (pid {holder})" if holder else "another codive"
        super().__init__(f"session {session.id} is open in {who}")
        self.session = session
        self.holder = holder


class Session:
    """One conversation and the file it is saved in.

    `messages` is the conversation as the model should see it: compactions applied, tool
    calls that never got a result answered with an error result. `interrupted_indexes` holds
    the indexes in `messages` of partial answers (Ctrl-C mid-answer), whose text is kept.
    `warnings` says what loading skipped or repaired; `usage` totals the usage records.
    """

    def __init__(self, path: Path, header: dict[str, Any], *, fd: int | None = None) -> None:
        self.path = path
        self.id = str(header.get("id") or path.stem)
        self.workspace = str(header.get("workspace", ""))
        self.created = str(header.get("created", ""))
        self.meta: dict[str, Any] = {k: v for k, v in header.items() if k not in _HEADER_KEYS}
        self.messages: list[ChatMessage] = []
        self.interrupted_indexes: set[int] = set()
        self.warnings: list[str] = []
        self.title = ""
        self.usage = Usage()
        self._fd: int | None = None
        self._closed = False
        self._unsaved: list[ChatMessage] = []
        self._needs_newline = False
        self._dir_synced = fd is None  # a new file's directory entry is synced once
        if fd is not None:
            self._adopt(fd)

    @classmethod
    def _replayed(cls, path: Path, replay: _Replay) -> Session:
        session = cls(path, replay.header or {})
        session.meta = replay.meta
        session.messages = replay.messages
        session.interrupted_indexes = replay.interrupted
        session.warnings = replay.warnings
        session.title = replay.title
        session.usage = replay.usage
        session._unsaved = replay.unsaved
        return session

    def append(self, message: ChatMessage, *, interrupted: bool = False) -> None:
        """Save one message; `interrupted` marks a partial answer."""
        record: dict[str, Any] = {"type": "message", "message": encode_message(message)}
        if interrupted:
            record["interrupted"] = True
        self._write(record)
        if interrupted:
            self.interrupted_indexes.add(len(self.messages))
        self.messages.append(message)
        if message.role == "user" and not self.title:
            self.title = _title(message.content)

    def record(self, kind: str, **data: Any) -> None:
        """Save a record that is not a message: `usage` (token counts), `model` (a switch)..."""
        if kind in _OWN_KINDS or "type" in data:
            raise ValueError(f"record kind {kind!r} (or a 'type' field) is reserved")
        self._write({"type": kind, **data})
        if kind == "usage":
            self.usage = _add_usage(self.usage, data)
        elif kind == "model":
            self.meta.update(data)

    def compact(self, summary: str, keep: int) -> None:
        """Replace all but the system messages and the latest `keep` messages by `summary`."""
        if keep < 0:
            raise ValueError("keep must not be negative")
        self._write({"type": "compact", "summary": summary, "keep": keep})
        self.messages, self.interrupted_indexes = _compacted(
            self.messages, self.interrupted_indexes, summary, keep
        )

    def sync(self) -> None:
        """Make everything written so far durable (the REPL calls this after every turn)."""
        if self._fd is None:
            return
        os.fsync(self._fd)
        if not self._dir_synced:
            self._dir_synced = True
            with contextlib.suppress(OSError):  # not every platform can fsync a directory
                fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._closed = True

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write(self, record: dict[str, Any]) -> None:
        fd = self._open()
        unsaved = [{"type": "message", "message": encode_message(m)} for m in self._unsaved]
        data = b"".join(_line(r) for r in [*unsaved, record])
        if self._needs_newline:
            data = b"\n" + data
        self._needs_newline = True  # until the whole line is down
        view = memoryview(data)
        while view:  # one write, unless the kernel takes less (disk full, a signal)
            view = view[os.write(fd, view) :]
        self._needs_newline = False
        self._unsaved = []

    def _open(self) -> int:
        if self._closed:
            raise ValueError(f"session {self.id} is closed")
        if self._fd is None:
            self._adopt(_locked(self.path, self))
        assert self._fd is not None
        return self._fd

    def _adopt(self, fd: int) -> None:
        """Write through `fd` from now on (locked, or only ever seen by us: a new file)."""
        size = os.lseek(fd, 0, os.SEEK_END)
        if size:  # a torn last line (power loss) must not swallow the next record
            os.lseek(fd, size - 1, os.SEEK_SET)
            self._needs_newline = os.read(fd, 1) != b"\n"
        self._fd = fd


def _locked(path: Path, session: Session | None = None) -> int:
    """The file open for appending, with its lock; SessionBusy if another codive has it."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | _BINARY)
    if session_lock.acquire(fd):
        return fd
    try:
        holder = session_lock.holder(fd)
    finally:
        os.close(fd)
    raise SessionBusy(session or _load(path), holder)


def _load(path: Path, *, lock: bool = False) -> Session:
    if not lock:
        return Session._replayed(path, _Replay().read(path.read_bytes()))
    fd = _locked(path)
    try:  # read under the lock: what we hold is what the file holds
        session = _load(path)
        session._adopt(fd)
    except BaseException:
        os.close(fd)
        raise
    return session


def _header_workspace(path: Path) -> str | None:
    """The workspace named on a file's first line, read without loading the file."""
    try:
        with path.open("rb") as file:
            record = json.loads(file.readline(1 << 16))
    except (OSError, ValueError, RecursionError):
        return None
    if isinstance(record, dict) and record.get("type") == "session":
        workspace = record.get("workspace")
        return workspace if isinstance(workspace, str) else None
    return None


def _workspace_key(workspace: Path) -> str:
    return str(Path(workspace).resolve())


def _session_files(root: Path) -> list[tuple[Path, float]]:
    """(path, mtime) of every session file, newest first."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return []
    files: list[tuple[Path, float]] = []
    for entry in entries:
        if entry.name.endswith(".jsonl"):
            with contextlib.suppress(OSError):
                if entry.is_file():
                    files.append((Path(entry.path), entry.stat().st_mtime))
    files.sort(key=lambda item: (item[1], item[0].name), reverse=True)
    return files


class SessionStore:
    """The folder of saved sessions: `<id>.jsonl` files, private to the person (0o700/0o600).

    Ids are `YYYYMMDD-HHMMSS-xxxx` (UTC time of creation, four random hex digits), so they
    sort by age.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_root()

    def create(self, workspace: Path, **meta: Any) -> Session:
        """A new, empty session for `workspace`; `meta` (provider, model...) goes in its header."""
        if reserved := _HEADER_KEYS & meta.keys():
            raise ValueError(f"reserved header keys: {', '.join(sorted(reserved))}")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix" and self.root.stat().st_mode & 0o077:
            self.root.chmod(0o700)
        now = datetime.now(UTC)
        for _ in range(100):
            session_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
            path = self.root / f"{session_id}.jsonl"
            try:
                fd = os.open(
                    path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | _BINARY, 0o600
                )
            except FileExistsError:
                continue
            session_lock.acquire(fd)  # a new file: nobody else can hold it yet
            break
        else:
            raise FileExistsError(f"no free session id in {self.root} for {now:%Y%m%d-%H%M%S}")
        created = now.isoformat(timespec="seconds")
        header = {"type": "session", "version": VERSION, "id": session_id, "created": created}
        header |= {"workspace": _workspace_key(workspace), **meta}
        session = Session(path, header, fd=fd)
        try:
            session._write(header)
        except BaseException:
            session.close()
            path.unlink(missing_ok=True)
            raise
        return session

    def load(self, session_id: str, *, lock: bool = False) -> Session:
        """The session with this id, or the only one whose id starts with it; else KeyError.

        With `lock`, it is locked for writing at once (SessionBusy if another codive has it).
        """
        names = {path.stem: path for path, _ in _session_files(self.root)}
        if session_id in names:
            return _load(names[session_id], lock=lock)
        matches = sorted(name for name in names if session_id and name.startswith(session_id))
        if len(matches) == 1:
            return _load(names[matches[0]], lock=lock)
        if matches:
            raise KeyError(f"session id {session_id!r} is ambiguous: {', '.join(matches)}")
        raise KeyError(f"no saved session {session_id!r}")

    def latest(self, workspace: Path, *, lock: bool = False) -> Session | None:
        """The most recently updated session of `workspace`.

        Sessions without a user message (started, then left) are passed over unless there is
        nothing else, so `--continue` finds the last real conversation. With `lock`, as `load`.
        """
        key = _workspace_key(workspace)
        empty: Session | None = None
        for path, _ in _session_files(self.root):
            if _header_workspace(path) != key:
                continue
            try:
                session = _load(path)
            except FileNotFoundError:
                continue
            if any(message.role == "user" for message in session.messages):
                return _load(path, lock=True) if lock else session
            empty = empty or session
        return _load(empty.path, lock=True) if lock and empty else empty

    def fork(self, session: Session, **meta: Any) -> Session:
        """A new session that starts with `session`'s conversation (for a second codive to go
        on with while the first has it open); `meta` updates the header's."""
        header = {**session.meta, **meta, "forked_from": session.id}
        copy = self.create(Path(session.workspace or "."), **header)
        for index, message in enumerate(session.messages):
            copy.append(message, interrupted=index in session.interrupted_indexes)
        copy.warnings = list(session.warnings)
        return copy

    def list(self, workspace: Path | None = None) -> list[SessionInfo]:
        """Saved sessions, of one workspace or all, most recently updated first."""
        key = None if workspace is None else _workspace_key(workspace)
        infos: list[SessionInfo] = []
        for path, updated in _session_files(self.root):
            if key is not None and _header_workspace(path) != key:
                continue
            try:
                s = _load(path)
            except FileNotFoundError:
                continue
            infos.append(
                SessionInfo(s.id, path, s.workspace, s.created, updated, s.title, len(s.messages))
            )
        return infos
