"""OpenAI Chat Completions: the wire format, and the `openai` provider that speaks it.

`OpenAIChatProvider` is the wire format at a configurable base URL; `OpenAIProvider` is
OpenAI's own endpoint, and `local_llm` (another module) is any compatible server.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from httpx_sse import ServerSentEvent

from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    Done,
    ModelInfo,
    StopReason,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from codive_cli.providers import catalog
from codive_cli.providers._errors import ErrorContext
from codive_cli.providers.base import HttpProvider, WireParser

_FINISH_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


class OpenAIChatProvider(HttpProvider):
    """The Chat Completions wire format. Subclasses say where it is served and how."""

    name = "openai"
    path = "/chat/completions"
    default_base_url = "https://api.openai.com/v1"
    max_tokens_field: ClassVar[str] = "max_tokens"

    def headers(self) -> dict[str, str]:
        if self.config.api_key:
            return {"authorization": f"Bearer {self.config.api_key}"}
        return {}

    def available_models(self) -> list[ModelInfo]:
        return []

    def wire_message(self, message: ChatMessage) -> dict[str, Any]:
        return wire_message(message)

    def reply_events(self, data: Any) -> list[StreamEvent]:
        return completion_events(data)

    def parser(self) -> StreamParser:
        return StreamParser(self.http.context)

    def parse_models(self, data: Any) -> list[ModelInfo]:
        """`GET /models`: OpenAI's `data` list, or Ollama's `models`; context sizes where
        the server gives them (vLLM `max_model_len`, llama.cpp `meta.n_ctx`)."""
        entries: list[dict[str, Any]] = data.get("data") or data.get("models") or []
        return [self._model_info(entry) for entry in entries if entry.get("id")]

    def _model_info(self, entry: dict[str, Any]) -> ModelInfo:
        meta = entry.get("meta") or {}
        context = entry.get("max_model_len") or entry.get("context_length") or meta.get("n_ctx")
        return ModelInfo(
            id=entry["id"],
            name=entry.get("name") or entry["id"],
            context_window=context if isinstance(context, int) else None,
            max_output_tokens=None,
            provider=self.config.display_name,
        )

    async def resolve_model(self, request: CompletionRequest) -> str:
        return request.model or self.model

    async def body(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        self.require_key()
        body: dict[str, Any] = {
            "model": await self.resolve_model(request),
            "messages": self.wire_messages(request.messages),
        }
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        max_tokens = request.max_tokens or self.config.max_tokens
        if max_tokens:
            body[self.max_tokens_field] = max_tokens
        body.update(self.sampling(request))
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body


class OpenAIProvider(OpenAIChatProvider):
    """OpenAI's own API; the key comes from OPENAI_API_KEY or config."""

    name = "openai"
    default_model = "gpt-5"
    key_env = "OPENAI_API_KEY"
    max_tokens_field = "max_completion_tokens"  # reasoning models reject max_tokens

    def available_models(self) -> list[ModelInfo]:
        return list(catalog.OPENAI_MODELS)


def convert_messages(messages: Iterable[ChatMessage]) -> list[dict[str, Any]]:
    """Our messages as Chat Completions messages (assistant tool_calls, tool replies)."""
    return [wire_message(message) for message in messages]


def wire_message(message: ChatMessage) -> dict[str, Any]:
    """One message as a Chat Completions message."""
    if message.role == "tool":
        content = message.content
        if message.is_error and not content.lower().startswith("error"):
            content = f"Error: {content}"  # the format has no error flag
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in message.tool_calls
            ],
        }
    if message.images:
        return {"role": message.role, "content": _content_parts(message)}
    return {"role": message.role, "content": message.content}


def _content_parts(message: ChatMessage) -> list[dict[str, Any]]:
    """Text and images as content parts; each image as a `data:` URL."""
    parts: list[dict[str, Any]] = []
    if message.content:
        parts.append({"type": "text", "text": message.content})
    for image in message.images:
        url = f"data:{image.media_type};base64,{image.encoded()}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


@dataclass
class _Call:
    id: str
    name: str = ""
    started: bool = False
    pending: list[str] = field(default_factory=list)


class StreamParser(WireParser):
    """Turns `chat.completion.chunk`s into our events.

    Tool-call fragments are keyed by `index`; a fragment with a new `id` at a known index is
    a new call (some servers send every call at index 0), and calls without ids get one.
    """

    _ids = itertools.count(1)

    def __init__(self, context: ErrorContext) -> None:
        super().__init__(context)
        self._calls: dict[int, _Call] = {}
        self._saw_calls = False
        self._finish: str | None = None

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        if sse.data.strip() == "[DONE]":
            self.finished = True
            return [self.end()]
        if not sse.data.strip():
            return []
        try:
            chunk = json.loads(sse.data)
        except json.JSONDecodeError:
            return self.bad_data("chunk", sse.data)
        if "error" in chunk:
            return self.error_event(sse.data)
        return self._chunk(chunk)

    def end(self) -> StreamEvent:
        """The event that closes the stream: `Done`, or an error if it was cut short."""
        if self._finish is None:
            return super().end()
        reason = _FINISH_REASONS.get(self._finish, "end_turn")
        if reason == "end_turn" and self._saw_calls:
            reason = "tool_use"  # some servers say "stop" after tool calls
        return Done(reason, self.usage, self.id, self.model)

    def _chunk(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        self.id = self.id or chunk.get("id", "")
        self.model = self.model or chunk.get("model", "")
        if chunk.get("usage"):
            self.usage = _usage(chunk["usage"])
        events: list[StreamEvent] = []
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            events.extend(_content_events(delta))
            for fragment in delta.get("tool_calls") or []:
                events.extend(self._tool_fragment(fragment))
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return events

    def _tool_fragment(self, fragment: dict[str, Any]) -> list[StreamEvent]:
        self._saw_calls = True
        index = fragment.get("index", 0)
        function = fragment.get("function") or {}
        call = self._calls.get(index)
        new_id = fragment.get("id")
        if call is None or (new_id and new_id != call.id and call.started):
            call = _Call(new_id or f"call_{next(self._ids)}")
            self._calls[index] = call
        events: list[StreamEvent] = []
        if function.get("name") and not call.started:
            call.name = function["name"]
            call.started = True
            events.append(ToolCallStart(call.id, call.name))
            events.extend(ToolCallDelta(call.id, text) for text in call.pending)
            call.pending.clear()
        arguments = function.get("arguments")
        if arguments:
            if call.started:
                events.append(ToolCallDelta(call.id, arguments))
            else:
                call.pending.append(arguments)
        return events


def _content_events(part: dict[str, Any]) -> list[StreamEvent]:
    """The reasoning and text of a message or of a stream delta (the keys are the same)."""
    events: list[StreamEvent] = []
    reasoning = part.get("reasoning_content") or part.get("reasoning")
    if reasoning:
        events.append(ThinkingDelta(reasoning))
    if part.get("content"):
        events.append(TextDelta(part["content"]))
    return events


def _usage(data: dict[str, Any]) -> Usage:
    details = data.get("prompt_tokens_details") or {}
    return Usage(
        input_tokens=data.get("prompt_tokens") or 0,
        output_tokens=data.get("completion_tokens") or 0,
        cache_read_tokens=details.get("cached_tokens") or 0,
    )


def completion_events(data: dict[str, Any]) -> list[StreamEvent]:
    """A non-streamed `chat.completion` as the events a stream would have carried."""
    events: list[StreamEvent] = []
    choice = (data.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    events.extend(_content_events(message))
    calls = message.get("tool_calls") or []
    for n, call in enumerate(calls):
        call_id = call.get("id") or f"call_{n + 1}"
        function = call.get("function") or {}
        events.append(ToolCallStart(call_id, function.get("name", "")))
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # a few servers send an object
            arguments = json.dumps(arguments)
        events.append(ToolCallDelta(call_id, arguments))
    reason = _FINISH_REASONS.get(choice.get("finish_reason") or "stop", "end_turn")
    if reason == "end_turn" and calls:
        reason = "tool_use"
    usage = _usage(data.get("usage") or {})
    events.append(Done(reason, usage, data.get("id", ""), data.get("model", "")))
    return events
