"""What the loop tells whoever drives it, and the one question it asks them.

The loop emits a stream of events (the model's stream events, tool calls starting and
finishing, messages joining the conversation) to a `Driver`, and asks the driver to approve
risky calls. The driver is handed to each run: a terminal renderer, a JSON-lines writer, a
chat that saves the session, a test that records them. Nothing is patched onto the agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from codive_cli.policy.permissions import Approval, ApprovalRequest
from codive_cli.provider import ChatMessage, StreamEvent, ToolCall
from codive_cli.tools.base import ToolResult


@dataclass(frozen=True)
class ToolStarted:
    """A call about to run; `output()` is what it has printed so far, while it runs (a
    live view polls it: commands can run for minutes)."""

    call: ToolCall
    output: Callable[[], str] = field(default=lambda: "", compare=False, repr=False)
    type: Literal["tool_started"] = "tool_started"


@dataclass(frozen=True)
class ToolFinished:
    call: ToolCall
    result: ToolResult
    type: Literal["tool_finished"] = "tool_finished"


@dataclass(frozen=True)
class MessageAdded:
    """A message joined the conversation (a chat saves it); `interrupted` marks the partial
    answer kept when the person stopped it."""

    message: ChatMessage
    interrupted: bool = False
    type: Literal["message"] = "message"


@dataclass(frozen=True)
class Compacted:
    """A long run's older steps were replaced by `summary`; the latest `kept` messages stay
    (a session records the same, so a resumed one matches)."""

    summary: str
    kept: int
    type: Literal["compacted"] = "compacted"


AgentEvent = StreamEvent | ToolStarted | ToolFinished | MessageAdded | Compacted


class Driver(Protocol):
    """Whoever runs the agent: sees every event, answers every approval request."""

    def emit(self, event: AgentEvent) -> None: ...

    async def approve(self, request: ApprovalRequest) -> Approval: ...


class Unattended:
    """A driver for runs nobody watches: events are dropped, and `ask` means no."""

    def emit(self, event: AgentEvent) -> None:
        pass

    async def approve(self, request: ApprovalRequest) -> Approval:
        from codive_cli.policy.permissions import deny_without_terminal

        return await deny_without_terminal(request)
