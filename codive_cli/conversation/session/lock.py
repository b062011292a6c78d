"""One codive per session file: a non-blocking advisory lock, and who holds it.

`flock` locks belong to an open file description, so the lock lasts exactly as long as the
session keeps its file open, and dies with the process however it ends. Where there are no
such locks (Windows), every `acquire` succeeds.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

PROC_LOCKS = Path("/proc/locks")


def acquire(fd: int) -> bool:
    """Take the exclusive lock on an open file; False when another open file holds it."""
    if sys.platform == "win32":
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def holder(fd: int) -> int | None:
    """The pid of the process holding the lock on this file, where the system says (Linux)."""
    try:
        lines = PROC_LOCKS.read_text().splitlines()
    except OSError:
        return None
    info = os.fstat(fd)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 4242 00:2d:1234 0 EOF"; waiters have a "->" field
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == device:
            return int(fields[4]) if fields[4].isdigit() and fields[4] != "0" else None
    return None


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """Wait for the exclusive lock on `path` (created if need be), for a short update."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
