"""OpenAI Chat Completions: the wire format, and the `openai` provider that speaks it.

`OpenAIChatProvider` is the wire format at a configurable base URL; `OpenAIProvider` is
OpenAI's own endpoint, and `local_llm` (another module) is any compatible server.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from httpx_sse import ServerSentEvent

from codive_cli.errors import ConfigError, StreamCutOff
from codive_cli.provider import (
    ChatMessage,
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
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    fold,
)
from codive_cli.providers import catalog
from codive_cli.providers._errors import ErrorContext, error_from_event
from codive_cli.providers._http import HttpEndpoint

_FINISH_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


class OpenAIChatProvider(Provider):
    """The Chat Completions wire format. Subclasses say where it is served and how."""

    name = "openai"
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    default_model: ClassVar[str] = ""
    key_env: ClassVar[str | None] = None
    key_required: ClassVar[bool] = True
    max_tokens_field: ClassVar[str] = "max_tokens"

    def __init__(self, config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        config.model = config.model or self.default_model
        self.model = config.model
        headers = {}
        if config.api_key:
            headers["authorization"] = f"Bearer {config.api_key}"
        context = ErrorContext(
            config.display_name,
            self.model,
            config.api_key_env or self.key_env,
            [m.id for m in self.available_models()],
        )
        self.http = HttpEndpoint(config, self.base_url(), headers, context, client)

    def base_url(self) -> str:
        return (self.config.base_url or self.default_base_url).rstrip("/")

    def available_models(self) -> list[ModelInfo]:
        return []

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        body = await self._body(request, stream=False)
        data = await self.http.post_json("/chat/completions", body)
        return fold(completion_events(data))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        body = await self._body(request, stream=True)
        async for event in self.http.retrying_stream(lambda: self._stream_once(body)):
            yield event

    async def _stream_once(self, body: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        parser = StreamParser(self.http.context)
        async with self.http.open_sse("/chat/completions", body) as events:
            async for sse in events:
                for event in parser.feed(sse):
                    yield event
                if parser.finished:
                    return
        yield parser.end()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def resolve_model(self, request: CompletionRequest) -> str:
        return request.model or self.model

    async def _body(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        if self.key_required and not self.config.api_key:
            env = self.config.api_key_env or self.key_env or "the provider's key variable"
            raise ConfigError(
                f"no API key for {self.config.display_name}",
                hint=f"set {env} or [provider] api_key in codive.toml",
            )
        body: dict[str, Any] = {
            "model": await self.resolve_model(request),
            "messages": convert_messages(request.messages),
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
        temperature = request.temperature
        if temperature is None:
            temperature = self.config.temperature
        if temperature is not None:
            body["temperature"] = temperature
        if request.stop:
            body["stop"] = request.stop
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
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            content = message.content
            if message.is_error and not content.lower().startswith("error"):
                content = f"Error: {content}"  # the format has no error flag
            out.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": content})
        elif message.role == "assistant" and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.name,
                                "arguments": json.dumps(call.arguments),
                            },
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": message.role, "content": message.content})
    return out


@dataclass
class _Call:
    id: str
    name: str = ""
    started: bool = False
    pending: list[str] = field(default_factory=list)


class StreamParser:
    """Turns `chat.completion.chunk`s into our events.

    Tool-call fragments are keyed by `index`; a fragment with a new `id` at a known index is
    a new call (some servers send every call at index 0), and calls without ids get one.
    """

    _ids = itertools.count(1)

    def __init__(self, context: ErrorContext) -> None:
        self.context = context
        self.finished = False
        self._calls: dict[int, _Call] = {}
        self._saw_calls = False
        self._finish: str | None = None
        self._usage = Usage()
        self._id = ""
        self._model = ""

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        if sse.data.strip() == "[DONE]":
            self.finished = True
            return [self.end()]
        if not sse.data.strip():
            return []
        try:
            chunk = json.loads(sse.data)
        except json.JSONDecodeError:
            self.finished = True
            return [StreamError(self.context.parse_error(f"bad chunk: {sse.data[:200]!r}"))]
        if "error" in chunk:
            self.finished = True
            return [StreamError(error_from_event(sse.data, self.context))]
        return self._chunk(chunk)

    def end(self) -> StreamEvent:
        """The event that closes the stream: `Done`, or an error if it was cut short."""
        if self._finish is None:
            return StreamError(StreamCutOff(f"{self.context.provider}: the stream ended early"))
        reason = _FINISH_REASONS.get(self._finish, "end_turn")
        if reason == "end_turn" and self._saw_calls:
            reason = "tool_use"  # some servers say "stop" after tool calls
        return Done(reason, self._usage, self._id, self._model)

    def _chunk(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        self._id = self._id or chunk.get("id", "")
        self._model = self._model or chunk.get("model", "")
        if chunk.get("usage"):
            self._usage = _usage(chunk["usage"])
        events: list[StreamEvent] = []
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                events.append(ThinkingDelta(reasoning))
            if delta.get("content"):
                events.append(TextDelta(delta["content"]))
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
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if reasoning:
        events.append(ThinkingDelta(reasoning))
    if message.get("content"):
        events.append(TextDelta(message["content"]))
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
