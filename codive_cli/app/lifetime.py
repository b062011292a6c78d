"""How a command's event loop ends: SIGTERM and SIGHUP stop it the way Ctrl-C does.

Without this, either signal kills codive on the spot, and the command a tool is running (in a
process group of its own, so it never sees the signal) is left behind. Here the signal cancels
the command's task instead, so every `finally` on the way out runs as for Ctrl-C: the tool's
process group is killed, the embedded llama-server and MCP servers are stopped, the session is
written; then `Terminated` ends codive with status 128 + the signal's number.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from codive_cli.errors import Terminated

T = TypeVar("T")
SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, with SIGTERM and SIGHUP cancelling `main`, then raising
    `Terminated` (SIGINT keeps asyncio's own handling: KeyboardInterrupt)."""
    return asyncio.run(_until_signalled(main))


async def _until_signalled(main: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:  # a second signal waits for the clean-up the first one started
            received.append(signum)
            task.cancel()

    installed = []
    for signum in SIGNALS:
        with contextlib.suppress(NotImplementedError):  # an event loop without signals
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
    try:
        result = await main
    except asyncio.CancelledError:
        if received:
            raise Terminated(received[0]) from None
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
    if received:  # the command finished its turn anyway: still, it was asked to stop
        raise Terminated(received[0])
    return result
