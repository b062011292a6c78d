"""Opening a file only when it is a regular file: what every self-initiated read uses.

A FIFO blocks the reader until a writer comes and a device may never end (/dev/zero), so a
repository that plants one where codive reads (codive.toml, .gitignore, a tool's path) could
hang or exhaust it; this module is the one place that refuses them.
"""

from __future__ import annotations

import os
import stat
from typing import IO

NOT_REGULAR = "is not a regular file (a device, socket or pipe)"


class SpecialFile(OSError):
    """A path that is a FIFO, socket or device, which a file tool never opens."""


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a regular file for reading; raise SpecialFile for anything else.

    Opening a FIFO blocks until a writer comes, and a device may never end (/dev/zero), so
    the path is checked before opening, and checked again on the descriptor (opened without
    blocking) in case the file was swapped since.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise SpecialFile(f"{os.fspath(path)} {NOT_REGULAR}")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SpecialFile(f"{os.fspath(path)} {NOT_REGULAR}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
