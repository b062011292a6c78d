"""What a chat turn runs under: the driver that saves each message as it joins the
conversation, and Ctrl-C that cancels the turn instead of ending codive."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

from codive_cli.agent.events import AgentEvent, Compacted, Driver, MessageAdded, ToolStarted
from codive_cli.conversation.session import Session
from codive_cli.policy.permissions import Approval, ApprovalRequest
from codive_cli.provider import ToolCall


class Saving:
    """A run's driver: every message that joins the conversation is saved as it does, and
    `starting` (when given) hears of each tool call just before it runs; the rest goes to
    `view`."""

    def __init__(
        self,
        view: Driver,
        session: Session,
        starting: Callable[[ToolCall], None] | None = None,
    ) -> None:
        self.view = view
        self.session = session
        self.starting = starting

    def emit(self, event: AgentEvent) -> None:
        if isinstance(event, MessageAdded):
            self.session.append(event.message, interrupted=event.interrupted)
        elif isinstance(event, Compacted):
            self.session.compact(event.summary, event.kept)
        self.view.emit(event)
        if isinstance(event, ToolStarted) and self.starting is not None:
            self.starting(event.call)

    async def approve(self, request: ApprovalRequest) -> Approval:
        return await self.view.approve(request)


def stopping() -> bool:
    """Whether the task running the chat has been cancelled, not just the turn (Ctrl-C)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@contextlib.contextmanager
def sigint_cancels(loop: asyncio.AbstractEventLoop, task: asyncio.Future[None]) -> Iterator[None]:
    """While a turn runs, Ctrl-C cancels it instead of ending codive."""
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
        installed = True
    except (NotImplementedError, RuntimeError):
        installed = False
    try:
        yield
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
