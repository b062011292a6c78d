"""The Session object: one conversation and its file, appended whole lines under a lock."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codive_cli.agent.codec import encode_message, json_line
from codive_cli.conversation.session import lock as session_lock
from codive_cli.conversation.session.records import (
    HEADER_KEYS,
    Replay,
    add_usage,
    compacted,
    title_of,
)
from codive_cli.provider import ChatMessage, Usage

_OWN_KINDS = frozenset({"session", "message", "compact", "rewind"})  # written by Session itself
BINARY = getattr(os, "O_BINARY", 0)  # Windows would translate newlines otherwise


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
        self.meta: dict[str, Any] = {k: v for k, v in header.items() if k not in HEADER_KEYS}
        self.messages: list[ChatMessage] = []
        self.interrupted_indexes: set[int] = set()
        self.warnings: list[str] = []
        self.title = ""
        self.usage = Usage()
        self.checkpoints: list[dict[str, Any]] = []  # as loaded: see conversation/checkpoints
        self._fd: int | None = None
        self._closed = False
        self._unsaved: list[ChatMessage] = []
        self._needs_newline = False
        self._dir_synced = fd is None  # a new file's directory entry is synced once
        self.on_saved: Callable[[Session], None] | None = None  # after a sync or close
        self._reported = -1  # the file's size when on_saved last heard of it
        if fd is not None:
            self._adopt(fd)

    @classmethod
    def started(cls, path: Path, header: dict[str, Any], fd: int) -> Session:
        """A session in a file just created (and locked) as `fd`, its header written."""
        session = cls(path, header, fd=fd)
        try:
            session._write(header)
        except BaseException:
            session.close()
            path.unlink(missing_ok=True)
            raise
        return session

    @classmethod
    def _replayed(cls, path: Path, replay: Replay) -> Session:
        session = cls(path, replay.header or {})
        session.meta = replay.meta
        session.messages = replay.messages
        session.interrupted_indexes = replay.interrupted
        session.warnings = replay.warnings
        session.title = replay.title
        session.usage = replay.usage
        session.checkpoints = replay.checkpoints
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
            self.title = title_of(message.content)

    def record(self, kind: str, **data: Any) -> None:
        """Save a record that is not a message: `usage` (token counts), `model` (a switch)..."""
        if kind in _OWN_KINDS or "type" in data:
            raise ValueError(f"record kind {kind!r} (or a 'type' field) is reserved")
        self._write({"type": kind, **data})
        if kind == "usage":
            self.usage = add_usage(self.usage, data)
        elif kind == "model":
            self.meta.update(data)

    def compact(self, summary: str, keep: int) -> None:
        """Replace all but the system messages and the latest `keep` messages by `summary`."""
        if keep < 0:
            raise ValueError("keep must not be negative")
        self._write({"type": "compact", "summary": summary, "keep": keep})
        self.messages, self.interrupted_indexes = compacted(
            self.messages, self.interrupted_indexes, summary, keep
        )

    def rewind(self, keep: int, *, files: bool = True) -> None:
        """Go back to the first `keep` messages (/rewind); the file keeps the rest, undone.
        `files=False`: the files were left as they are (/edit, a failed turn), so the
        checkpoints of the turns cut stay for /undo."""
        if not 0 <= keep <= len(self.messages):
            raise ValueError(f"cannot keep {keep} of {len(self.messages)} messages")
        self._write({"type": "rewind", "keep": keep} | ({} if files else {"files": False}))
        self.messages = self.messages[:keep]
        self.interrupted_indexes = {i for i in self.interrupted_indexes if i < keep}

    def sync(self) -> None:
        """Make everything written so far durable (the REPL calls this after every turn)."""
        if self._fd is None:
            return
        os.fsync(self._fd)
        self._report()
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
            try:
                self._report()
            finally:
                os.close(self._fd)
        self._fd = None
        self._closed = True

    def stat(self) -> os.stat_result:
        """The file's size and times (through the open descriptor, if there is one)."""
        return os.fstat(self._fd) if self._fd is not None else self.path.stat()

    def _report(self) -> None:
        """Tell `on_saved` (the store's index) when the file has grown since it last heard."""
        if self.on_saved is None or self._fd is None:
            return
        size = os.fstat(self._fd).st_size
        if size != self._reported:
            self._reported = size
            self.on_saved(self)

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


def load(path: Path, *, lock: bool = False) -> Session:
    """The session saved in `path`; with `lock`, locked for writing (else SessionBusy)."""
    if not lock:
        return Session._replayed(path, Replay().read(path.read_bytes()))
    fd = _locked(path)
    try:  # read under the lock: what we hold is what the file holds
        session = load(path)
        session._adopt(fd)
    except BaseException:
        os.close(fd)
        raise
    return session


def _locked(path: Path, session: Session | None = None) -> int:
    """The file open for appending, with its lock; SessionBusy if another codive has it."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | BINARY)
    if session_lock.acquire(fd):
        return fd
    try:
        holder = session_lock.holder(fd)
    finally:
        os.close(fd)
    raise SessionBusy(session or load(path), holder)


def _line(record: dict[str, Any]) -> bytes:
    return (json_line(record, compact=True) + "\n").encode("utf-8")
