"""Anthropic Messages API: `POST {base}/v1/messages`, streamed as server-sent events."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

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


class AnthropicProvider(HttpProvider):
    """Claude through the Messages API; the key comes from ANTHROPIC_API_KEY or config."""

    name = "anthropic"
    path = "/v1/messages"
    default_base_url = DEFAULT_BASE_URL
    default_model = DEFAULT_MODEL
    key_env = "ANTHROPIC_API_KEY"
    key_owner = "Anthropic"
    stop_field = "stop_sequences"

    def base_url(self) -> str:
        return super().base_url().removesuffix("/v1")

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if self.config.api_key:
            headers["x-api-key"] = self.config.api_key
        return headers

    def available_models(self) -> list[ModelInfo]:
        return list(catalog.ANTHROPIC_MODELS)

    def model_info(self, model_id: str | None = None) -> ModelInfo | None:
        return catalog.find(
            self.available_models(), model_id or self.model, catalog.ANTHROPIC_ALIASES
        )

    def wire_message(self, message: ChatMessage) -> dict[str, Any] | str:
        return wire_message(message)

    def reply_events(self, data: Any) -> list[StreamEvent]:
        return message_events(data)

    def parser(self) -> StreamParser:
        return StreamParser(self.http.context)

    async def body(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        self.require_key()
        model = request.model or self.model
        system, messages = merge(self.wire_messages(request.messages))
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
        body.update(self.sampling(request))
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
    return merge([wire_message(message) for message in messages])


def wire_message(message: ChatMessage) -> dict[str, Any] | str:
    """One message as an Anthropic message; a system message as its text."""
    if message.role == "system":
        return message.content
    role = "assistant" if message.role == "assistant" else "user"
    return {"role": role, "content": _blocks(message)}


def merge(wired: Iterable[dict[str, Any] | str]) -> tuple[str, list[dict[str, Any]]]:
    """The system text apart, and messages of one role in a row merged (the API wants roles
    to alternate). Merging makes new messages: the ones given may be reused next request."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for message in wired:
        if isinstance(message, str):
            system.append(message)
        elif out and out[-1]["role"] == message["role"]:
            out[-1] = {"role": message["role"], "content": out[-1]["content"] + message["content"]}
        else:
            out.append(message)
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
    # Images before the text, as Anthropic advises.
    blocks: list[dict[str, Any]] = [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": image.media_type, "data": image.encoded()},
        }
        for image in message.images
    ]
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


class StreamParser(WireParser):
    """Turns Messages API stream events into ours, keyed by content block index."""

    def __init__(self, context: ErrorContext) -> None:
        super().__init__(context)
        self._tool_ids: dict[int, str] = {}
        self._stop: StopReason = "end_turn"

    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        try:
            data = json.loads(sse.data) if sse.data else {}
        except json.JSONDecodeError:
            return self.bad_data("event data", sse.data)
        kind = sse.event if sse.event != "message" else data.get("type", "")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            return []  # ping, content_block_stop, and event types added after this was written
        events: list[StreamEvent] = handler(data)
        return events

    def _on_error(self, data: dict[str, Any]) -> list[StreamEvent]:
        return self.error_event(json.dumps(data))

    def _on_message_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        message = data.get("message", {})
        self.id = message.get("id", "")
        self.model = message.get("model", "")
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
                return self.fail(self.context.parse_error("input_json_delta outside a tool_use"))
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
        return [Done(self._stop, self.usage, self.id, self.model)]

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
                setattr(self.usage, ours, usage[wire])


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
