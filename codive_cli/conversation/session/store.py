"""The folder of saved sessions: create, load, the latest of a workspace, list, fork."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codive_cli.conversation.session import lock as session_lock
from codive_cli.conversation.session.records import HEADER_KEYS, VERSION
from codive_cli.conversation.session.writer import BINARY, Session, load


def default_root() -> Path:
    """Where sessions live: `sessions` under the platform's user data dir."""
    from platformdirs import user_data_path

    return user_data_path("codive", appauthor=False) / "sessions"


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


class SessionStore:
    """The folder of saved sessions: `<id>.jsonl` files, private to the person (0o700/0o600).

    Ids are `YYYYMMDD-HHMMSS-xxxx` (UTC time of creation, four random hex digits), so they
    sort by age.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_root()

    def create(self, workspace: Path, **meta: Any) -> Session:
        """A new, empty session for `workspace`; `meta` (provider, model...) goes in its header."""
        if reserved := HEADER_KEYS & meta.keys():
            raise ValueError(f"reserved header keys: {', '.join(sorted(reserved))}")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix" and self.root.stat().st_mode & 0o077:
            self.root.chmod(0o700)
        now = datetime.now(UTC)
        session_id, path, fd = _new_file(self.root, now)
        created = now.isoformat(timespec="seconds")
        header = {"type": "session", "version": VERSION, "id": session_id, "created": created}
        header |= {"workspace": _workspace_key(workspace), **meta}
        return Session.started(path, header, fd)

    def load(self, session_id: str, *, lock: bool = False) -> Session:
        """The session with this id, or the only one whose id starts with it; else KeyError.

        With `lock`, it is locked for writing at once (SessionBusy if another codive has it).
        """
        names = {path.stem: path for path, _ in _session_files(self.root)}
        if session_id in names:
            return load(names[session_id], lock=lock)
        matches = sorted(name for name in names if session_id and name.startswith(session_id))
        if len(matches) == 1:
            return load(names[matches[0]], lock=lock)
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
                session = load(path)
            except FileNotFoundError:
                continue
            if any(message.role == "user" for message in session.messages):
                return load(path, lock=True) if lock else session
            empty = empty or session
        return load(empty.path, lock=True) if lock and empty else empty

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
                s = load(path)
            except FileNotFoundError:
                continue
            infos.append(
                SessionInfo(s.id, path, s.workspace, s.created, updated, s.title, len(s.messages))
            )
        return infos


def _new_file(root: Path, now: datetime) -> tuple[str, Path, int]:
    """(id, path, locked descriptor) of a new, empty session file in `root`."""
    for _ in range(100):
        session_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        path = root / f"{session_id}.jsonl"
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | BINARY, 0o600)
        except FileExistsError:
            continue
        session_lock.acquire(fd)  # a new file: nobody else can hold it yet
        return session_id, path, fd
    raise FileExistsError(f"no free session id in {root} for {now:%Y%m%d-%H%M%S}")


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
