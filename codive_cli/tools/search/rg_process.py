"""One ripgrep process: run with no stdin under a deadline, its output fed on as it comes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable

from codive_cli.tools.search.budget import Budget
from codive_cli.tools.search.ignore import IgnoreRules

# A line of rg output longer than this is cut (a minified file); its text is truncated anyway.
_MAX_RG_LINE_BYTES = 1 << 20


def base_args(rules: IgnoreRules) -> list[str]:
    """Flags that make rg choose files the way the Python walker does."""
    args = [
        "--no-config",
        "--hidden",
        "--no-ignore-dot",
        "--no-ignore-exclude",
        "--no-ignore-global",
        "--glob",
        "!.git",
    ]
    if not rules.git:
        args.append("--no-require-git")
    return args


def relative(raw: bytes) -> str:
    """A path rg printed, without its leading `./`."""
    text = os.fsdecode(raw)
    while text.startswith("./"):
        text = text[2:]
    return text


class RgRun:
    """One ripgrep process, its output read line by line until the consumer has enough."""

    def __init__(self, rg: str, args: list[str], cwd: str) -> None:
        self.rg = rg
        self.args = args
        self.cwd = cwd
        self.returncode: int | None = None
        self.stderr = b""

    async def run(
        self, on_line: Callable[[bytes], bool], budget: Budget, *, whole: bool = False
    ) -> None:
        """Feed each stdout line (or, with `whole`, each chunk as read) to `on_line` until it
        returns False or the output ends."""
        proc = await asyncio.create_subprocess_exec(
            self.rg,
            *self.args,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        errors = asyncio.ensure_future(_read_bounded(proc.stderr, 64 * 1024))
        finished = False
        try:
            remaining = max(0.0, budget.deadline - time.monotonic())
            try:
                pump = _chunks(proc.stdout, on_line) if whole else _pump(proc.stdout, on_line)
                finished = await asyncio.wait_for(pump, remaining)
            except TimeoutError:
                raise budget.timed_out() from None
        finally:
            await asyncio.shield(self._finish(proc, kill=not finished))
            self.returncode = proc.returncode
            self.stderr = await errors

    @staticmethod
    async def _finish(proc: asyncio.subprocess.Process, *, kill: bool) -> None:
        # Kill only a process we stopped reading from: signalling one that has ended
        # would reap it behind asyncio's child watcher (which then reports exit 255).
        if kill and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        # Read stdout to its end: wait() returns only once every pipe is closed, and a
        # reader left with a full buffer stops reading, so it would never see the end.
        assert proc.stdout is not None
        while await proc.stdout.read(1 << 16):
            pass
        await proc.wait()


async def _read_bounded(stream: asyncio.StreamReader, limit: int) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept)


async def _chunks(stream: asyncio.StreamReader, on_chunk: Callable[[bytes], bool]) -> bool:
    while chunk := await stream.read(1 << 16):
        if not on_chunk(chunk):
            return False
    return True


async def _pump(stream: asyncio.StreamReader, on_line: Callable[[bytes], bool]) -> bool:
    """Split `stream` into lines for `on_line`; True if the stream ended, False if stopped."""
    buffer = bytearray()
    skipping = False  # inside an over-long line whose head was already handed on
    while True:
        chunk = await stream.read(1 << 16)
        if not chunk:
            break
        buffer += chunk
        start = 0
        while (newline := buffer.find(b"\n", start)) != -1:
            line = bytes(buffer[start:newline])
            start = newline + 1
            if skipping:
                skipping = False
                continue
            if not on_line(line):
                return False
        del buffer[:start]
        if len(buffer) > _MAX_RG_LINE_BYTES:
            if not skipping and not on_line(bytes(buffer[:_MAX_RG_LINE_BYTES])):
                return False
            skipping = True
            buffer.clear()
    if buffer and not skipping:
        return on_line(bytes(buffer))
    return True
