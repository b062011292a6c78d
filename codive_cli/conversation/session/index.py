"""The session index: what listing sessions reads instead of whole session files.

Beside the sessions, `index/` holds one file per workspace, `<key>.jsonl` (the key hashes the
workspace's path): a header line, then a line per session of that workspace, the most
recently updated first (wrapped here; one line each in the file):

    {"index":1,"workspace":"/home/me/repo","scanned":1740838502123456789}
    {"id":"20250301-141502-9f3a","created":"2025-03-01T14:15:02+00:00",
     "title":"fix the failing test","messages":12,"asked":true,"mtime":1740838600512345678,
     "size":20480}

and `ids`, a line per session naming its workspace, so a rebuild reads each header once.

- Listing reads lines from the top until it has enough, and checks each against its file
  (one stat): a file gone is dropped; a file whose size or mtime differs from its line (a
  codive killed mid-turn, an older codive, an update lost) is read again and its line fixed.
- `scanned` is the sessions folder's mtime when the index last matched the folder's names.
  Creating or deleting a session file (by any codive, an older one, or a person) moves it,
  and the next listing reconciles: sessions the index lacks are read once, gone ones dropped.
  A missing or unreadable index is rebuilt the same way. An mtime younger than two seconds
  is not trusted, since a change within the same clock tick would not move it.
- Writers (a session's `sync` and `close`) put their line at the top under a lock on
  `<key>.lock` and replace the file atomically, so concurrent codives never tear it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from codive_cli.conversation.session import lock as session_lock
from codive_cli.conversation.session.writer import Session, load

VERSION = 1
RACY_NS = 2_000_000_000  # a folder mtime this young may hide a change in the same tick


@dataclass(frozen=True)
class Entry:
    """One session's line in the index."""

    id: str
    created: str
    title: str
    messages: int
    asked: bool  # it has a user message (`--continue` passes over sessions without)
    mtime: int  # the file's, in nanoseconds, when this line was written
    size: int  # the file's size then

    def line(self) -> bytes:
        text = json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))
        return (text + "\n").encode("utf-8")

    @classmethod
    def parse(cls, raw: bytes) -> Entry | None:
        """The entry on a line, or None for anything else (a header, a torn line, junk)."""
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict):
            return None
        values: list[Any] = [data.get(f.name) for f in fields(cls)]
        if [type(v) for v in values] != [str, str, str, int, bool, int, int]:
            return None
        return cls(*values)

    @classmethod
    def of(cls, session: Session, info: os.stat_result) -> Entry:
        asked = any(message.role == "user" for message in session.messages)
        size, mtime = info.st_size, info.st_mtime_ns
        return cls(
            session.id, session.created, session.title, len(session.messages), asked, mtime, size
        )


def summarize(path: Path, workspace: str | None = None) -> Entry | None:
    """A session file's entry, read whole (for files the index has not seen or that changed);
    None if it cannot be read or (given `workspace`) belongs to another workspace."""
    try:
        info = path.stat()  # before reading: a write meanwhile makes the entry look stale
        session = load(path)
    except OSError:
        return None
    return None if workspace not in (None, session.workspace) else Entry.of(session, info)


class Index:
    """The index of the sessions in `root` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "index"

    def file(self, workspace: str) -> Path:
        return self.dir / f"{hashlib.sha256(workspace.encode()).hexdigest()[:24]}.jsonl"

    def sessions(self, workspace: str, limit: int | None = None) -> list[Entry]:
        """The sessions of `workspace`, most recently updated first, checked against their files."""
        if not self.root.is_dir():
            return []
        path = self.file(workspace)
        if not self._fresh(path, workspace):
            self.reconcile(workspace)
        found: list[Entry] = []
        fixed: list[Entry] = []
        gone: set[str] = set()
        for entry in _entries(path) if limit != 0 else ():
            checked = _checked(self.root / f"{entry.id}.jsonl", entry, workspace)
            if checked is None:
                gone.add(entry.id)
                continue
            if checked != entry:
                fixed.append(checked)
            found.append(checked)
            if len(found) == limit:
                break
        if gone:  # deleted, or its header now names another workspace
            self._owners(_session_names(self.root), forget=gone)
        if fixed or gone:
            self._rewrite(workspace, fixed, gone)
            found.sort(key=lambda e: e.mtime, reverse=True)
        return found

    def touch(self, session: Session) -> None:
        """Put `session`'s line at the top of its workspace's index (it has just written)."""
        entry = Entry.of(session, session.stat())
        path = self.file(session.workspace)
        self.dir.mkdir(mode=0o700, exist_ok=True)
        prefix = b'{"id":' + json.dumps(entry.id).encode() + b","
        with session_lock.held(path.with_suffix(".lock")):
            lines = iter(_read_lines(path))
            header = _parse_header(next(lines, b""), session.workspace)
            rest = [line for line in lines if not line.startswith(prefix)]
            _replace(path, [_header_line(session.workspace, header), entry.line(), *rest])

    def added(self, session: Session) -> None:
        """A new session: remember its workspace, and list it at once."""
        record = {"id": session.id, "workspace": session.workspace}
        fd = os.open(self.dir / "ids", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, _json_line(record))
        finally:
            os.close(fd)
        self.touch(session)

    def reconcile(self, workspace: str) -> None:
        """Match the index to the folder: read the sessions it lacks, drop the gone ones."""
        self.dir.mkdir(mode=0o700, exist_ok=True)
        stamp = os.stat(self.root).st_mtime_ns  # before looking: a change after moves it
        names = _session_names(self.root)
        owners = self._owners(names)
        ours = {name for name in names if owners.get(name) == workspace}
        path = self.file(workspace)
        with session_lock.held(path.with_suffix(".lock")):
            known = {e.id: e for e in _entries(path) if e.id in ours}
            for name in ours - known.keys():
                if entry := summarize(self.root / f"{name}.jsonl", workspace):
                    known[name] = entry
            scanned = stamp if time.time_ns() - stamp > RACY_NS else 0
            lines = [e.line() for e in sorted(known.values(), key=_newest)]
            _replace(path, [_header_line(workspace, {"scanned": scanned}), *lines])

    def workspaces(self) -> set[str]:
        """Every workspace with a session in the folder."""
        if not self.root.is_dir():
            return set()
        self.dir.mkdir(mode=0o700, exist_ok=True)
        return set(self._owners(_session_names(self.root)).values())

    def _fresh(self, path: Path, workspace: str) -> bool:
        header = _parse_header(next(iter(_read_lines(path)), b""), workspace)
        scanned = header.get("scanned") if header else None
        return bool(scanned) and scanned == os.stat(self.root).st_mtime_ns

    def _owners(
        self, names: set[str], forget: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, str]:
        """id -> workspace for the session files in `names` (headers read for new ones, and
        for those in `forget`, which turned out to be elsewhere)."""
        catalog = self.dir / "ids"
        owners = {k: v for k, v in _catalog(catalog).items() if k not in forget}
        unseen = names - owners.keys()
        new = {name: header_workspace(self.root / f"{name}.jsonl") for name in unseen}
        owners |= {name: workspace for name, workspace in new.items() if workspace is not None}
        if new or forget or owners.keys() - names:
            owners = {name: owners[name] for name in names if name in owners}
            with session_lock.held(catalog.with_suffix(".lock")):
                _replace(
                    catalog, (_json_line({"id": k, "workspace": v}) for k, v in owners.items())
                )
        return owners

    def _rewrite(self, workspace: str, fixed: list[Entry], gone: set[str]) -> None:
        """Write back what a listing found out: lines fixed, sessions gone."""
        path = self.file(workspace)
        drop = gone | {entry.id for entry in fixed}
        with session_lock.held(path.with_suffix(".lock")):
            lines = iter(_read_lines(path))
            header = _parse_header(next(lines, b""), workspace)
            kept = [e for e in map(Entry.parse, lines) if e is not None and e.id not in drop]
            ordered = sorted([*kept, *fixed], key=_newest)
            _replace(path, [_header_line(workspace, header), *(e.line() for e in ordered)])


def _checked(path: Path, entry: Entry, workspace: str) -> Entry | None:
    """The entry as its file stands now: itself, read again if the file changed, None if gone."""
    try:
        info = path.stat()
    except OSError:
        return None
    if (info.st_size, info.st_mtime_ns) == (entry.size, entry.mtime):
        return entry
    return summarize(path, workspace)


def _newest(entry: Entry) -> tuple[int, str]:
    return -entry.mtime, entry.id


def _read_lines(path: Path) -> Iterator[bytes]:
    """The lines of a file, read as they are asked for; none if it cannot be read."""
    try:
        file = path.open("rb")
    except OSError:
        return
    with file:
        yield from file


def _entries(path: Path) -> Iterator[Entry]:
    lines = iter(_read_lines(path))
    next(lines, None)  # the header
    for raw in lines:
        if entry := Entry.parse(raw):
            yield entry


def _parse_header(raw: bytes, workspace: str) -> dict[str, Any] | None:
    """The header line's fields, if it is a header of this version for this workspace."""
    with contextlib.suppress(ValueError, RecursionError):
        header = json.loads(raw)
        ok = isinstance(header, dict) and header.get("index") == VERSION
        if ok and header.get("workspace") == workspace and type(header.get("scanned")) is int:
            return dict(header)
    return None


def _header_line(workspace: str, header: dict[str, Any] | None) -> bytes:
    scanned = header["scanned"] if header else 0  # no header: reconcile at the next listing
    return _json_line({"index": VERSION, "workspace": workspace, "scanned": scanned})


def _json_line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def _catalog(path: Path) -> dict[str, str]:
    """The `ids` file: id -> workspace (lines that cannot be read are left out)."""
    owners: dict[str, str] = {}
    for raw in _read_lines(path):
        with contextlib.suppress(ValueError, RecursionError):
            record = json.loads(raw)
            if isinstance(record, dict):
                name, workspace = record.get("id"), record.get("workspace")
                if isinstance(name, str) and isinstance(workspace, str):
                    owners[name] = workspace
    return owners


def _replace(path: Path, lines: Iterable[bytes]) -> None:
    """Write `path` whole, atomically: readers see the old file or the new one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.writelines(lines)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _session_names(root: Path) -> set[str]:
    """The ids of the session files in `root` (names only: no stat, no read)."""
    try:
        with os.scandir(root) as entries:
            return {e.name[:-6] for e in entries if e.name.endswith(".jsonl")}
    except FileNotFoundError:
        return set()


def header_workspace(path: Path) -> str | None:
    """The workspace named on a file's first line, read without loading the file: "" when
    that line is whole but names none, None when it cannot tell (yet)."""
    try:
        with path.open("rb") as file:
            line = file.readline(1 << 16)
    except OSError:
        return None
    if not line.endswith(b"\n"):
        return None  # empty, or a header being written right now
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return ""
    if isinstance(record, dict) and record.get("type") == "session":
        workspace = record.get("workspace")
        return workspace if isinstance(workspace, str) else ""
    return ""
