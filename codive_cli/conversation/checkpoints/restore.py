"""Putting files back as a checkpoint had them, with writes that never leave the workspace.

Every path is walked from the workspace root one folder at a time with `O_NOFOLLOW`, so a
symlink planted in place of a folder stops the write instead of leading it elsewhere; each
file is written to a temporary name beside it and renamed into place (a symlink at that name
is replaced, never written through). Nothing is written inside a `.git` folder or codive's own
folders.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from codive_cli.conversation.checkpoints.shadow import Change

ABSENT_MODE = "000000"
FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@dataclass
class Restored:
    """What a restore did: paths written back, paths removed, and paths left with a reason."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.written or self.removed or self.skipped)


def restore(
    root: Path, changes: list[Change], blobs: dict[str, bytes], protected: tuple[Path, ...]
) -> Restored:
    """Make each changed path what it was before: removed if it did not exist, else its
    content and executable bit written back. Other files are left alone."""
    done = Restored()
    allowed = []
    for change in changes:
        reason = refusal(root, change.path, protected)
        if reason:
            done.skipped.append(f"{change.path}: {reason}")
        else:
            allowed.append(change)
    created = [c for c in allowed if c.old_mode == ABSENT_MODE]
    for change in sorted(created, key=lambda c: c.path.count("/"), reverse=True):
        _attempt(done, change.path, partial(_remove, root, change.path), done.removed)
    for change in allowed:
        if change.old_mode != ABSENT_MODE:
            data = blobs.get(change.old_blob, b"")
            write = partial(_write, root, change.path, change.old_mode, data)
            _attempt(done, change.path, write, done.written)
    return done


def refusal(root: Path, path: str, protected: tuple[Path, ...]) -> str | None:
    """Why `path` (relative, `/`-separated) must not be written, or None."""
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or path.startswith("/"):
        return "not a plain path inside the workspace"
    if any(part.casefold() == ".git" for part in parts):
        return "git's own files are never written"
    target = os.path.normcase(str(root.joinpath(*parts)))
    for folder in protected:
        prefix = os.path.normcase(str(folder)).rstrip(os.sep)
        if target == prefix or target.startswith(prefix + os.sep):
            return "codive's own files are never written"
    return None


def _attempt(done: Restored, path: str, action: Callable[[], bool], into: list[str]) -> None:
    try:
        if action() is not False:
            into.append(path)
    except OSError as error:
        reason = _REASONS.get(error.errno or 0, error.strerror or str(error))
        done.skipped.append(f"{path}: {reason}")


_REASONS = {
    errno.ELOOP: "a symlink now stands where a folder was; not followed",
    errno.ENOTDIR: "a file now stands where a folder was",
    errno.EISDIR: "a folder now stands there",
    errno.ENOTEMPTY: "a folder now stands there",
    errno.EEXIST: "a folder now stands there",
    errno.EPERM: "not permitted (a folder now stands there?)",
}


def _folders(root: Path, parts: list[str], *, create: bool) -> list[int]:
    """Open descriptors of the root and of each folder on the way to `parts[-1]`."""
    fds = [os.open(root, FOLDER_FLAGS)]
    try:
        for name in parts[:-1]:
            try:
                fds.append(os.open(name, FOLDER_FLAGS, dir_fd=fds[-1]))
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(name, 0o777, dir_fd=fds[-1])
                fds.append(os.open(name, FOLDER_FLAGS, dir_fd=fds[-1]))
            except NotADirectoryError:
                link = stat.S_ISLNK(os.stat(name, dir_fd=fds[-1], follow_symlinks=False).st_mode)
                raise OSError(errno.ELOOP if link else errno.ENOTDIR, name) from None
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def _remove(root: Path, path: str) -> bool:
    """Remove what the turn created at `path`, and the folders it leaves empty."""
    parts = path.split("/")
    try:
        fds = _folders(root, parts, create=False)
    except FileNotFoundError:
        return False  # already gone
    try:
        try:
            os.unlink(parts[-1], dir_fd=fds[-1])
        except FileNotFoundError:
            return False
        except IsADirectoryError:
            raise OSError(errno.EISDIR, "is a folder") from None
        for depth in range(len(parts) - 1, 0, -1):  # the folders the file leaves empty
            try:
                os.rmdir(parts[depth - 1], dir_fd=fds[depth - 1])
            except OSError:
                break
        return True
    finally:
        for fd in fds:
            os.close(fd)


def _write(root: Path, path: str, mode: str, data: bytes) -> bool:
    """Write `data` at `path` as a file (mode 100644/100755) or a symlink (120000)."""
    if mode not in ("100644", "100755", "120000"):
        raise OSError(errno.EPERM, "a nested repository is not restored")
    parts = path.split("/")
    fds = _folders(root, parts, create=True)
    folder, name = fds[-1], parts[-1]
    temporary = f".{name[:40]}.codive-{secrets.token_hex(4)}"
    try:
        if mode == "120000":
            os.symlink(os.fsdecode(data), temporary, dir_fd=folder)
        else:
            _write_file(folder, name, temporary, data, executable=mode == "100755")
        try:
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
        return True
    finally:
        for fd in fds:
            os.close(fd)


def _write_file(folder: int, name: str, temporary: str, data: bytes, *, executable: bool) -> None:
    """The new file under `temporary`: permissions those of the file it replaces (or the
    default for a new one), with the executable bit as the checkpoint had it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temporary, flags, 0o666, dir_fd=folder)
    try:
        try:
            current = os.stat(name, dir_fd=folder, follow_symlinks=False)
            base = stat.S_IMODE(current.st_mode) if stat.S_ISREG(current.st_mode) else None
        except FileNotFoundError:
            base = None
        if base is None:
            base = stat.S_IMODE(os.fstat(fd).st_mode)  # 0o666 less the umask
        readable = base & 0o444
        os.fchmod(fd, base | readable >> 2 if executable else base & ~0o111)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder)
        raise
    os.close(fd)
