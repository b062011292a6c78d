"""A turn as the person sees it: the `Driver` the agent loop talks to on a terminal or pipe.

It draws events with a renderer, prints a line per tool call where no live view shows them,
and asks for approval with the live view paused, so a question never lands inside it.
"""

from __future__ import annotations

from collections.abc import Callable

from codive_cli.agent.events import AgentEvent, Compacted, ToolFinished
from codive_cli.policy.permissions import Approval, ApprovalRequest, Approver
from codive_cli.provider import Retrying, ToolCall
from codive_cli.tools.base import ToolResult
from codive_cli.ui.render import Renderer, compacted_line, retry_line

ToolLine = Callable[[ToolCall, ToolResult], None]


class Turn:
    def __init__(
        self,
        renderer: Renderer,
        approver: Approver,
        tool_line: ToolLine | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.renderer = renderer
        self.approver = approver
        self.tool_line = tool_line  # where no live view shows tool calls
        self.note = note  # likewise for retries and compactions

    def emit(self, event: AgentEvent) -> None:
        self.renderer.on_event(event)
        if self.tool_line is not None and isinstance(event, ToolFinished):
            self.tool_line(event.call, event.result)
        if self.note is not None and isinstance(event, Retrying):
            self.note(retry_line(event))
        if self.note is not None and isinstance(event, Compacted):
            self.note(compacted_line(event))

    async def approve(self, request: ApprovalRequest) -> Approval:
        self.renderer.pause()
        return await self.approver(request)

    def close(self) -> None:
        self.renderer.close()
