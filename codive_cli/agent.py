"""Running a request against a provider: stream a reply, report each event, fold the result.

The tool loop (run tools, send results, repeat) builds on `run_step`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    CompletionResponse,
    Provider,
    ResponseBuilder,
    StreamEvent,
    Usage,
)

EventSink = Callable[[StreamEvent], None]


async def run_step(
    provider: Provider, request: CompletionRequest, on_event: EventSink, *, stream: bool = True
) -> CompletionResponse:
    """One model call. Every event reaches `on_event` before it is folded."""
    if not stream:
        response = await provider.complete(request)
        for event in _events_of(response):
            on_event(event)
        return response
    builder = ResponseBuilder()
    async for event in provider.stream(request):
        on_event(event)
        builder.feed(event)  # raises the ProviderError of a StreamError
    return builder.build()


def _events_of(response: CompletionResponse) -> list[StreamEvent]:
    from codive_cli.provider import Done, TextDelta, ThinkingDelta, ToolCallStart

    events: list[StreamEvent] = [ThinkingDelta(t.text) for t in response.thinking if t.text]
    if response.content:
        events.append(TextDelta(response.content))
    events.extend(ToolCallStart(call.id, call.name) for call in response.tool_calls)
    events.append(Done(response.stop_reason, response.usage, response.id, response.model))
    return events


@dataclass
class Conversation:
    """The messages so far and what they cost."""

    messages: list[ChatMessage] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    def add(self, message: ChatMessage) -> None:
        self.messages.append(message)


def build_messages(prompt: str, system: str | None) -> list[ChatMessage]:
    messages = [ChatMessage("system", system)] if system else []
    messages.append(ChatMessage("user", prompt))
    return messages
