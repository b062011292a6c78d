"""The folder of saved sessions: create, load, the latest of a workspace, list, fork."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codive_cli.conversation.session import lock as session_lock
from codive_cli.conversation.session.index import Entry, Index, header_workspace, summarize
from codive_cli.conversation.session.records import HEADER_KEYS, VERSION
from codive_cli.conversation.session.writer import BINARY, Session, load

LIST_LIMIT = 20  # what /sessions shows


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
    asked: bool = True  # it has a user message


class SessionStore:
    """The folder of saved sessions: `<id>.jsonl` files, private to the person (0o700/0o600).

    Ids are `YYYYMMDD-HHMMSS-xxxx` (UTC time of creation, four random hex digits), so they
    sort by age.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_root()
        self.index = Index(self.root)

    def create(self, workspace: Path, **meta: Any) -> Session:
        """A new, empty session for `workspace`; `meta` (provider, model...) goes in its header."""
        if reserved := HEADER_KEYS & meta.keys():
            raise ValueError(f"reserved header keys: {', '.join(sorted(reserved))}")
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix" and self.root.stat().st_mode & 0o077:
            self.root.chmod(0o700)
        self.index.dir.mkdir(mode=0o700, exist_ok=True)
        now = datetime.now(UTC)
        session_id, path, fd = _new_file(self.root, now)
        created = now.isoformat(timespec="seconds")
        header = {"type": "session", "version": VERSION, "id": session_id, "created": created}
        header |= {"workspace": _workspace_key(workspace), **meta}
        session = self._watched(Session.started(path, header, fd))
        with contextlib.suppress(OSError):  # the index is a cache: a listing repairs it
            self.index.added(session)
        return session

    def load(self, session_id: str, *, lock: bool = False) -> Session:
        """The session with this id, or the only one whose id starts with it; else KeyError.

        With `lock`, it is locked for writing at once (SessionBusy if another codive has it).
        """
        path = self.root / f"{session_id}.jsonl"
        if session_id and Path(session_id).name == session_id and path.is_file():
            return self._watched(load(path, lock=lock))
        names = {path.stem: path for path, _ in _session_files(self.root)}
        matches = sorted(name for name in names if session_id and name.startswith(session_id))
        if len(matches) == 1:
            return self._watched(load(names[matches[0]], lock=lock))
        if matches:
            raise KeyError(f"session id {session_id!r} is ambiguous: {', '.join(matches)}")
        raise KeyError(f"no saved session {session_id!r}")

    def latest(self, workspace: Path, *, lock: bool = False) -> Session | None:
        """The most recently updated session of `workspace`.

        Sessions without a user message (started, then left) are passed over unless there is
        nothing else, so `--continue` finds the last real conversation. With `lock`, as `load`.
        """
        infos = self.list(workspace, limit=LIST_LIMIT)
        if infos and not any(info.asked for info in infos):
            infos = self.list(workspace)  # all of them, to find one with a user message
        chosen = next((info for info in infos if info.asked), infos[0] if infos else None)
        if chosen is None:
            return None
        try:
            return self._watched(load(chosen.path, lock=lock))
        except FileNotFoundError:  # deleted since: look again
            return self.latest(workspace, lock=lock)

    def fork(self, session: Session, **meta: Any) -> Session:
        """A new session that starts with `session`'s conversation (for a second codive to go
        on with while the first has it open); `meta` updates the header's."""
        header = {**session.meta, **meta, "forked_from": session.id}
        copy = self.create(Path(session.workspace or "."), **header)
        for index, message in enumerate(session.messages):
            copy.append(message, interrupted=index in session.interrupted_indexes)
        copy.warnings = list(session.warnings)
        return copy

    def list(self, workspace: Path | None = None, limit: int | None = None) -> list[SessionInfo]:
        """Saved sessions, of one workspace or all, most recently updated first (at most
        `limit`). Reads the index, never whole session files (but those it has not seen)."""
        keys = [_workspace_key(workspace)] if workspace is not None else None
        try:
            if keys is None:
                keys = sorted(self.index.workspaces())
            found = [(key, e) for key in keys for e in self.index.sessions(key, limit)]
        except OSError:  # an index that cannot be written: read the files themselves
            found = _scanned(self.root, keys)
        found.sort(key=lambda item: (item[1].mtime, item[1].id), reverse=True)
        return [_info(self.root, key, entry) for key, entry in found[:limit]]

    def _watched(self, session: Session) -> Session:
        """`session`, its index line kept up to date when it syncs or closes."""

        def saved(session: Session) -> None:
            with contextlib.suppress(OSError):  # the index is a cache: a listing repairs it
                self.index.touch(session)

        session.on_saved = saved
        return session


def _info(root: Path, workspace: str, entry: Entry) -> SessionInfo:
    path = root / f"{entry.id}.jsonl"
    updated = entry.mtime / 1e9
    return SessionInfo(
        entry.id, path, workspace, entry.created, updated, entry.title, entry.messages, entry.asked
    )


def _scanned(root: Path, keys: list[str] | None) -> list[tuple[str, Entry]]:
    """(workspace, entry) of every session file of these workspaces, read whole: the fallback."""
    found = []
    for path, _ in _session_files(root):
        workspace = header_workspace(path)
        wanted = workspace is not None and (keys is None or workspace in keys)
        if wanted and (entry := summarize(path)):
            found.append((str(workspace), entry))
    return found


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
