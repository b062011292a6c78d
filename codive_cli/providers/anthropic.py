"""Anthropic Messages API: `POST {base}/v1/messages`, streamed as server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

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

API_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_MAX_TOKENS = 16_384

_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "refusal": "refusal",
    "pause_turn": "end_turn",
    "model_context_window_exceeded": "max_tokens",
}


class AnthropicProvider(Provider):
    """Claude through the Messages API; the key comes from ANTHROPIC_API_KEY or config."""

    name = "anthropic"

    def __init__(self, config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        config.model = config.model or DEFAULT_MODEL
        self.model = config.model
        base = (config.base_url or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
        headers = {"anthropic-version": API_VERSION}
        if config.api_key:
            headers["x-api-key"] = config.api_key
        context = ErrorContext(
            config.display_name,
            self.model,
            config.api_key_env or "ANTHROPIC_API_KEY",
            [m.id for m in catalog.ANTHROPIC_MODELS],
        )
        self.http = HttpEndpoint(config, base, headers, context, client)

    def available_models(self) -> list[ModelInfo]:
        return list(catalog.ANTHROPIC_MODELS)

    def model_info(self, model_id: str | None = None) -> ModelInfo | None:
        return catalog.find(
            self.available_models(), model_id or self.model, catalog.ANTHROPIC_ALIASES
        )

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        data = await self.http.post_json("/v1/messages", self._body(request, stream=False))
        return fold(message_events(data))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        body = self._body(request, stream=True)
        async for event in self.http.retrying_stream(lambda: self._stream_once(body)):
            yield event

    async def _stream_once(self, body: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        parser = StreamParser(self.http.context)
        async with self.http.open_sse("/v1/messages", body) as events:
            async for sse in events:
                for event in parser.feed(sse):
                    yield event
                if parser.finished:
                    return
        yield parser.cut_off()

    async def aclose(self) -> None:
        await self.http.aclose()

    def _body(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        if not self.config.api_key:
            raise ConfigError(
                "no API key for Anthropic",
                hint=f"set {self.config.api_key_env or 'ANTHROPIC_API_KEY'} or "
                "[provider] api_key in codive.toml",
            )
        model = request.model or self.model
        system, messages = convert_messages(request.messages)
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens or self.config.max_tokens or self._default_max(model),
            "messages": messages,
        }
        if system:
            body["system"] = system
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        temperature = request.temperature if request.temperature is not None else None
        if temperature is None:
            temperature = self.config.temperature
        if temperature is not None:
            body["temperature"] = temperature
        if request.stop:
            body["stop_sequences"] = request.stop
        if stream:
            body["stream"] = True
        return body

    def _default_max(self, model: str) -> int:
        info = self.model_info(model)
        if info and info.max_output_tokens:
            return min(info.max_output_tokens, DEFAULT_MAX_TOKENS)
        return DEFAULT_MAX_TOKENS


def convert_messages(messages: Iterable[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """Our messages as Anthropic's: system text apart, tool results as user blocks, merged."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message.content)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)  # the API wants roles to alternate
        else:
            out.append({"role": role, "content": blocks})
    return "\n\n".join(system), out


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
            "content": message.content,
        }
        if message.is_error:
            result["is_error"] = True
        return [result]
    blocks: list[dict[str, Any]] = []
    for thought in message.thinking:
        if thought.redacted_data is not None:
            blocks.append({"type": "redacted_thinking", "data": thought.redacted_data})
        elif thought.signature:  # unsigned thinking cannot be sent back
            blocks.append(
                {"type": "thinking", "thinking": thought.text, "signature": thought.signature}
            )
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks


class StreamParser:
    """Turns Messages API stream events into ours, keyed by content block index."""

    def __init__(self, context: ErrorContext) -> None:
        self.context = context
        self.finished = False
        self._tool_ids: dict[int, str] = {}
        self._id = ""
        self._model = ""
        self._usage = Usage()
        self._stop: StopReason = "end_turn"

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        try:
            data = json.loads(sse.data) if sse.data else {}
        except json.JSONDecodeError:
            return self._fail(self.context.parse_error(f"bad event data: {sse.data[:200]!r}"))
        kind = sse.event if sse.event != "message" else data.get("type", "")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            return []  # ping, content_block_stop, and event types added after this was written
        events: list[StreamEvent] = handler(data)
        return events

    def cut_off(self) -> StreamError:
        return StreamError(StreamCutOff(f"{self.context.provider}: the stream ended early"))

    def _fail(self, error: Any) -> list[StreamEvent]:
        self.finished = True
        return [StreamError(error)]

    def _on_error(self, data: dict[str, Any]) -> list[StreamEvent]:
        return self._fail(error_from_event(json.dumps(data), self.context))

    def _on_message_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        message = data.get("message", {})
        self._id = message.get("id", "")
        self._model = message.get("model", "")
        self._add_usage(message.get("usage", {}))
        return []

    def _on_content_block_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        block = data.get("content_block", {})
        kind = block.get("type")
        if kind == "tool_use":
            self._tool_ids[data.get("index", 0)] = block["id"]
            return [ToolCallStart(block["id"], block["name"])]
        if kind == "redacted_thinking":
            return [ThinkingDelta(redacted_data=block.get("data", ""))]
        if kind == "text" and block.get("text"):
            return [TextDelta(block["text"])]
        if kind == "thinking" and block.get("thinking"):
            return [ThinkingDelta(block["thinking"])]
        return []

    def _on_content_block_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta", {})
        kind = delta.get("type")
        if kind == "text_delta":
            return [TextDelta(delta.get("text", ""))]
        if kind == "input_json_delta":
            fragment = delta.get("partial_json", "")
            call_id = self._tool_ids.get(data.get("index", 0))
            if call_id is None:
                return self._fail(self.context.parse_error("input_json_delta outside a tool_use"))
            return [ToolCallDelta(call_id, fragment)] if fragment else []
        if kind == "thinking_delta":
            return [ThinkingDelta(delta.get("thinking", ""))]
        if kind == "signature_delta":
            return [ThinkingDelta(signature=delta.get("signature", ""))]
        return []

    def _on_message_delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        reason = data.get("delta", {}).get("stop_reason")
        if reason:
            self._stop = _STOP_REASONS.get(reason, "end_turn")
        self._add_usage(data.get("usage") or {})
        return []

    def _on_message_stop(self, data: dict[str, Any]) -> list[StreamEvent]:
        self.finished = True
        return [Done(self._stop, self._usage, self._id, self._model)]

    def _add_usage(self, usage: dict[str, Any]) -> None:
        """Take the counts present; the API repeats totals, so assign, never add."""
        fields = {
            "input_tokens": "input_tokens",
            "output_tokens": "output_tokens",
            "cache_read_input_tokens": "cache_read_tokens",
            "cache_creation_input_tokens": "cache_write_tokens",
        }
        for wire, ours in fields.items():
            if usage.get(wire) is not None:
                setattr(self._usage, ours, usage[wire])


def message_events(data: dict[str, Any]) -> list[StreamEvent]:
    """A non-streamed message as the events a stream would have carried."""
    events: list[StreamEvent] = []
    for block in data.get("content", []):
        kind = block.get("type")
        if kind == "text":
            events.append(TextDelta(block.get("text", "")))
        elif kind == "thinking":
            events.append(
                ThinkingDelta(block.get("thinking", ""), signature=block.get("signature"))
            )
        elif kind == "redacted_thinking":
            events.append(ThinkingDelta(redacted_data=block.get("data", "")))
        elif kind == "tool_use":
            events.append(ToolCallStart(block["id"], block["name"]))
            events.append(ToolCallDelta(block["id"], json.dumps(block.get("input", {}))))
    usage = data.get("usage", {})
    events.append(
        Done(
            _STOP_REASONS.get(data.get("stop_reason") or "end_turn", "end_turn"),
            Usage(
                usage.get("input_tokens") or 0,
                usage.get("output_tokens") or 0,
                usage.get("cache_read_input_tokens") or 0,
                usage.get("cache_creation_input_tokens") or 0,
            ),
            data.get("id", ""),
            data.get("model", ""),
        )
    )
    return events


__all__ = ["AnthropicProvider", "convert_messages"]
