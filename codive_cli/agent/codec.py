"""The one JSON encoding of what codive writes: messages (session files), the events of a
run (`--output-format stream-json`) and its result (`--json`).

Session files hold messages in this shape (one per `message` record):

    {"role":"user","content":"fix the failing test"}
    {"role":"user","content":"what is wrong here? @shot.png",
     "images":[{"media_type":"image/png","name":"shot.png","data":"iVBORw0KGgo..."}]}
    {"role":"assistant","content":"","tool_calls":[
     {"id":"c1","name":"read_file","arguments":{"path":"a.py"}}],
     "thinking":[{"text":"...","signature":"..."}]}
    {"role":"tool","content":"...","tool_call_id":"c1","is_error":true}

Forward compatibility: fields at their default are left out, so older files stay readable as
fields are added; unknown keys are ignored when decoding, so a file written by a newer codive
still loads. An image's bytes are base64 (at most 5 MB so: conversation/mentions.py caps them).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any, cast

from codive_cli.agent.events import AgentEvent, Compacted, ToolFinished, ToolStarted
from codive_cli.provider import (
    ChatMessage,
    Done,
    Image,
    Retrying,
    Role,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolCall,
)

if TYPE_CHECKING:
    from codive_cli.agent.loop import RunResult

__all__ = [
    "decode_message",
    "encode_event",
    "encode_message",
    "encode_result",
    "json_line",
    "typed_field",
]

_ROLES = ("system", "user", "assistant", "tool")


def encode_message(message: ChatMessage) -> dict[str, Any]:
    """A JSON-safe dict that `decode_message` turns back into an equal message."""
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_call_id is not None:
        data["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        data["tool_calls"] = [_encode_call(call) for call in message.tool_calls]
    if message.is_error:
        data["is_error"] = True
    if message.thinking:
        data["thinking"] = [_encode_thinking(block) for block in message.thinking]
    if message.images:
        data["images"] = [_encode_image(image) for image in message.images]
    return data


def _encode_image(image: Image) -> dict[str, Any]:
    data: dict[str, Any] = {"media_type": image.media_type}
    if image.name:
        data["name"] = image.name
    data["data"] = image.encoded()
    return data


def _encode_call(call: ToolCall) -> dict[str, Any]:
    data: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    if call.arguments_error is not None:
        data["arguments_error"] = call.arguments_error
    return data


def _encode_thinking(block: Thinking) -> dict[str, Any]:
    data: dict[str, Any] = {"text": block.text}
    if block.signature is not None:
        data["signature"] = block.signature
    if block.redacted_data is not None:
        data["redacted_data"] = block.redacted_data
    return data


def decode_message(data: Any) -> ChatMessage:
    """The message `encode_message` made (any JSON value); ValueError when the shape is wrong."""
    data = _object(data, "message")
    role = data.get("role")
    if role not in _ROLES:
        raise ValueError(f"unknown role {role!r}")
    return ChatMessage(
        role=cast(Role, role),
        content=typed_field(data, "content", str, ""),
        tool_call_id=typed_field(data, "tool_call_id", (str, type(None)), None),
        tool_calls=tuple(_decode_call(item) for item in typed_field(data, "tool_calls", list, [])),
        is_error=typed_field(data, "is_error", bool, False),
        thinking=tuple(_decode_thinking(item) for item in typed_field(data, "thinking", list, [])),
        images=tuple(_decode_image(item) for item in typed_field(data, "images", list, [])),
    )


def _decode_image(data: Any) -> Image:
    data = _object(data, "image")
    try:
        raw = base64.b64decode(typed_field(data, "data", str), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"an image's data is not base64 ({exc})") from None
    return Image(typed_field(data, "media_type", str), raw, typed_field(data, "name", str, ""))


def _decode_call(data: Any) -> ToolCall:
    data = _object(data, "tool call")
    return ToolCall(
        id=typed_field(data, "id", str),
        name=typed_field(data, "name", str),
        arguments=typed_field(data, "arguments", dict, {}),
        arguments_error=typed_field(data, "arguments_error", (str, type(None)), None),
    )


def _decode_thinking(data: Any) -> Thinking:
    data = _object(data, "thinking block")
    return Thinking(
        text=typed_field(data, "text", str, ""),
        signature=typed_field(data, "signature", (str, type(None)), None),
        redacted_data=typed_field(data, "redacted_data", (str, type(None)), None),
    )


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"a {what} must be a JSON object, not {type(value).__name__}")
    return value


_MISSING: Any = object()


def typed_field(data: dict[str, Any], key: str, kind: Any, default: Any = _MISSING) -> Any:
    """`data[key]` if it has the type `kind` (a type or tuple), else ValueError; `default`
    when the key is absent, if one is given."""
    value = data.get(key, default)
    if value is _MISSING:
        raise ValueError(f"{key!r} is missing")
    # bool is an int in Python, not in JSON: a count or a name must not be `true`
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{key!r} has the wrong type ({type(value).__name__})")
    return value


def encode_event(event: AgentEvent) -> dict[str, Any] | None:
    """The stream-json record of an event; None for those the stream leaves out (tool-call
    argument fragments, messages: the calls and results say it whole)."""
    match event:
        case TextDelta(text=text):
            return {"type": "text", "text": text}
        case ThinkingDelta(text=text) if text:
            return {"type": "thinking", "text": text}
        case ToolStarted(call=call):
            return {"type": "tool_call", **_encode_call(call)}
        case ToolFinished(call=call, result=result):
            return {
                "type": "tool_result",
                "id": call.id,
                "name": call.name,
                "result": result.content,
                "is_error": result.is_error,
            }
        case Retrying():
            return {
                "type": "retrying",
                "reason": event.reason,
                "delay": event.delay,
                "attempt": event.attempt,
                "attempts": event.attempts,
            }
        case Compacted(summary=summary, kept=kept):
            return {"type": "compacted", "summary": summary, "kept": kept}
        case Done(usage=usage, stop_reason=reason):
            return {
                "type": "usage",
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "stop_reason": reason,
            }
    return None


def encode_result(
    result: RunResult, *, provider: str, model: str, cost: float | None
) -> dict[str, Any]:
    """The `--json` result (and stream-json's last record), one shape for every provider;
    `model` is the configured one, for a reply that did not name its model; `cost` in USD,
    None for a model without a known price (never a made-up 0)."""
    return {
        "content": result.content,
        "tool_calls": [
            {
                "name": record.call.name,
                "arguments": record.call.arguments,
                "result": record.result.content,
                "is_error": record.result.is_error,
            }
            for record in result.tool_calls
        ],
        "usage": {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
        },
        "stop_reason": result.stop_reason,
        "model": result.model or model,
        "provider": provider,
        "steps": result.steps,
        "stopped_by": result.stopped_by,
        "cost_usd": cost,
    }


def json_line(record: object, *, compact: bool = False) -> str:
    """`record` as JSON on one line: raw UTF-8 where it can be, `\\u` escapes where it cannot
    (`compact`: no spaces after separators, as session files are written).

    A lone surrogate (from a model's `\\ud800` escape, or undecodable tool output) has no
    UTF-8 form: written raw it would fail the write, so that line is escaped throughout and
    stays valid JSON.
    """
    separators = (",", ":") if compact else None
    text = json.dumps(record, ensure_ascii=False, separators=separators)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(record, separators=separators)
    return text
