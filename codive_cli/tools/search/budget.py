"""A search's time budget, and running blocking search work in a thread under it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from codive_cli.tools.base import ToolError

_T = TypeVar("_T")

SEARCH_TIMEOUT = 60.0  # seconds for one glob or grep call


class Cancelled(Exception):
    """Raised in the worker thread once the awaiting caller was cancelled."""


class Budget:
    """A deadline and a cancel flag, checked by work running in a thread."""

    def __init__(self, timeout: float | None = None, what: str = "search") -> None:
        timeout = SEARCH_TIMEOUT if timeout is None else timeout
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.cancelled = threading.Event()
        self.what = what

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled
        if time.monotonic() > self.deadline:
            raise self.timed_out()

    def timed_out(self) -> ToolError:
        return ToolError(
            f"{self.what} timed out after {self.timeout:g}s; "
            "narrow it with a more specific path or glob"
        )


async def in_thread(work: Callable[[Budget], _T], budget: Budget) -> _T:
    """Run blocking work in a thread; if the caller is cancelled, the work stops soon after."""
    try:
        return await asyncio.to_thread(work, budget)
    except asyncio.CancelledError:
        budget.cancelled.set()
        raise
    except Cancelled:  # pragma: no cover - only after the caller was cancelled
        raise asyncio.CancelledError from None
