"""Where lines start in a big file: a sparse index per file version, so read_file reaches an
offset and knows the total line count in time proportional to the page, not the file.

The index holds, for every `granule` bytes, how many newlines come before that point: at
most GRANULES + 1 integers per file, whatever its size, for the CACHED_FILES files read
last. It is keyed by the file's version (device, inode, size, mtime and ctime in
nanoseconds) as fstat reports it on the open descriptor, and the bytes it points at are
checked against it when it is used, so a changed file is indexed again, never served from a
stale index. The index holds only positions; every line shown is read from the file.
"""

from __future__ import annotations

import os
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from dataclasses import dataclass
from typing import IO

GRANULES = 4096  # checkpoints per file at most: 32 KB of index whatever the file's size
MIN_GRANULE = 64 * 1024  # bytes between checkpoints for files up to GRANULES * this (256 MB)
CACHED_FILES = 8
_READ_BYTES = 1 << 20

FileKey = tuple[int, int, int, int, int]


def file_key(info: os.stat_result) -> FileKey:
    """A file's version: any write changes the size, the mtime or the ctime."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass(frozen=True)
class LineIndex:
    """Newline counts at regular byte positions from `start` (after a byte-order mark)."""

    start: int
    granule: int
    before: array[int]  # before[g]: newlines in the bytes [start, start + g * granule)
    total: int  # lines in the file (a last line without a newline counts)

    def line_start(self, f: IO[bytes], line: int) -> int | None:
        """The byte where `line` (1-based, at most `total`) starts, or None when the file no
        longer matches the index."""
        need = line - 1  # newlines before the line
        if need <= 0:
            return self.start
        granule = bisect_left(self.before, need) - 1  # the one holding the need-th newline
        position = self.start + granule * self.granule
        f.seek(position)
        block = f.read(self.granule)
        expected = self.before[granule + 1] - self.before[granule]
        full = len(block) == self.granule or granule + 2 == len(self.before)
        if not full or block.count(b"\n") != expected:
            return None
        found = -1
        for _ in range(need - self.before[granule]):
            found = block.find(b"\n", found + 1)
        return position + found + 1


def build(f: IO[bytes], start: int, size: int) -> LineIndex:
    """Index `f` from byte `start` on (one pass over the file, reading a granule at a time)."""
    granule = max(MIN_GRANULE, -(-(size - start) // GRANULES))
    before = array("q", [0])
    count = 0
    last = b"\n"
    f.seek(start)
    step = granule * max(1, _READ_BYTES // granule)  # whole granules per read
    while block := f.read(step):
        for low in range(0, len(block), granule):
            count += block.count(b"\n", low, low + granule)
            before.append(count)
        last = block[-1:]
    return LineIndex(start, granule, before, count + (0 if last == b"\n" else 1))


class IndexCache:
    """The indexes of the last few files read, least recently used dropped first."""

    def __init__(self, files: int = CACHED_FILES) -> None:
        self.files = files
        self._entries: OrderedDict[FileKey, LineIndex] = OrderedDict()
        self._lock = threading.Lock()  # read_file runs in worker threads

    def get(self, key: FileKey) -> LineIndex | None:
        with self._lock:
            index = self._entries.get(key)
            if index is not None:
                self._entries.move_to_end(key)
            return index

    def put(self, key: FileKey, index: LineIndex) -> None:
        with self._lock:
            stale = [k for k in self._entries if k[:2] == key[:2] and k != key]
            for k in stale:  # an older version of the same file
                del self._entries[k]
            self._entries[key] = index
            self._entries.move_to_end(key)
            while len(self._entries) > self.files:
                self._entries.popitem(last=False)

    def drop(self, key: FileKey) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def sizes(self) -> list[int]:
        """How many checkpoints each cached index holds (for tests of the memory bound)."""
        with self._lock:
            return [len(index.before) for index in self._entries.values()]


INDEXES = IndexCache()


def index_for(f: IO[bytes], start: int) -> LineIndex:
    """The index of the open file `f`: cached for its version, or built and cached."""
    key = file_key(os.fstat(f.fileno()))
    index = INDEXES.get(key)
    if index is not None and index.start == start:
        return index
    index = build(f, start, key[2])
    if file_key(os.fstat(f.fileno())) == key:  # unchanged while it was read: keep it
        INDEXES.put(key, index)
    return index


def cached(f: IO[bytes], start: int) -> LineIndex | None:
    """The cached index of `f`'s current version, if any."""
    index = INDEXES.get(file_key(os.fstat(f.fileno())))
    return index if index is not None and index.start == start else None
