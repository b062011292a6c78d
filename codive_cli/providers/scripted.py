"""A provider that plays back queued replies: the test double for everything above providers.

    provider = ScriptedProvider()
    provider.enqueue(Reply(tool_calls=[("read_file", {"path": "a.py"})]), Reply("Done."))

Each request is recorded (`provider.requests`), so tests can assert what the loop sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from codive_cli.errors import ProviderError
from codive_cli.provider import (
    CompletionRequest,
    CompletionResponse,
    Done,
    ModelInfo,
    Provider,
    ProviderConfig,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    fold,
)


@dataclass
class Reply:
    """One scripted model turn. `raw_arguments` sends a call's arguments verbatim."""

    text: str = ""
    tool_calls: Sequence[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str]] = ()
    stop: StopReason | None = None
    raw_arguments: dict[int, str] = field(default_factory=dict)
    usage: Usage = field(default_factory=lambda: Usage(10, 5))

    def events(self, first_id: int) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for start in range(0, len(self.text), 7):
            events.append(TextDelta(self.text[start : start + 7]))
        for n, call in enumerate(self.tool_calls):
            name, arguments = call[0], call[1]
            call_id = call[2] if len(call) > 2 else f"call_{first_id + n}"
            raw = self.raw_arguments.get(n, json.dumps(arguments))
            events.append(ToolCallStart(call_id, name))
            events.extend(ToolCallDelta(call_id, raw[i : i + 5]) for i in range(0, len(raw), 5))
        stop = self.stop or ("tool_use" if self.tool_calls else "end_turn")
        events.append(Done(stop, self.usage, f"msg_{first_id}", "scripted-model"))
        return events


class ScriptedProvider(Provider):
    name = "scripted"

    def __init__(self, config: ProviderConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config or ProviderConfig("scripted", model="scripted-model"))
        self.replies: list[Reply | ProviderError | BaseException] = []
        self.requests: list[CompletionRequest] = []
        self._ids = 1

    def enqueue(self, *replies: Reply | str | ProviderError | BaseException) -> None:
        self.replies.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def available_models(self) -> list[ModelInfo]:
        return [ModelInfo("scripted-model", "Scripted", 200_000, 8192, 1.0, 2.0, "scripted")]

    def _next(self, request: CompletionRequest) -> list[StreamEvent]:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError("ScriptedProvider: no reply queued")
        reply = self.replies.pop(0)
        if isinstance(reply, ProviderError):
            return [StreamError(reply)]
        if isinstance(reply, BaseException):
            raise reply
        events = reply.events(self._ids)
        self._ids += len(reply.tool_calls) + 1
        return events

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        return fold(self._next(request))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        for event in self._next(request):
            yield event
