"""Atomic writes: a file is either wholly old or wholly new, whatever happens meanwhile."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from codive_cli.tools.base import ToolError

_TEMP_SUFFIX = ".codive-tmp"


def atomic_write(path: Path, data: bytes | Iterable[bytes], *, mode: int | None = None) -> None:
    """Replace `path` with `data` (bytes, or pieces of bytes written one after the other)
    atomically: a temporary file in the same folder, written,
    flushed and fsynced, given `mode` (default: what a new file gets under the umask), then
    renamed over `path`. On any failure or interruption the temporary file is removed and
    `path` is untouched."""
    folder = path.parent
    existing_mode, owner = _existing(path)
    if mode is None:
        mode = existing_mode if existing_mode is not None else 0o666 & ~_umask()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in [data] if isinstance(data, bytes) else data:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, mode)
        if owner is not None and hasattr(os, "chown"):
            info_temp = os.stat(temp)
            if (info_temp.st_uid, info_temp.st_gid) != owner:
                with contextlib.suppress(OSError):
                    os.chown(temp, *owner)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_folder(folder)


def write(
    path: Path, data: bytes | Iterable[bytes], shown: str, *, mode: int | None = None
) -> None:
    """atomic_write, failing with an error for the model."""
    try:
        atomic_write(path, data, mode=mode)
    except PermissionError:
        raise ToolError(f"cannot write {shown}: permission denied") from None
    except OSError as exc:
        raise ToolError(
            f"cannot write {shown}: {exc.strerror or exc}; the file was left unchanged"
        ) from None


def _existing(path: Path) -> tuple[int | None, tuple[int, int] | None]:
    """The permission bits and owner of the file being replaced (None for a new file)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None, None
    return stat.S_IMODE(info.st_mode), (info.st_uid, info.st_gid)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _umask() -> int:
    """The process umask, read without changing it where the system allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # pragma: no cover - systems without /proc
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover
