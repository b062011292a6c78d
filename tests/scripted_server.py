"""A scripted fake model server for codive's tests.

It speaks just enough of the Anthropic Messages API and of the OpenAI Chat Completions API
(streaming and not) to play back replies written in a small script, and records every request it
receives so tests can assert exactly what the client sent.

In-process use::

    with ScriptedServer([{"text": "hello"}]) as srv:
        run_client(base_url=srv.base_url)
        assert srv.requests[-1]["json"]["model"] == "m"

Standalone use (for a client started as a subprocess)::

    python tests/scripted_server.py --script script.json [--port 0]

prints one line ``http://127.0.0.1:PORT`` once listening and serves until SIGTERM/SIGINT.
``script.json`` is ``{"replies": [...], "models": [...]}`` (a bare list of replies also works).
``POST /_script`` (a JSON list of replies, or ``{"replies": [...]}``) appends replies,
``GET /_requests`` returns the recorded requests and ``DELETE /_requests`` forgets them.
``GET /_stats`` returns ``{"requests", "connections", "bytes_received"}``: how many recorded
requests came in, on how many TCP connections, with how many body bytes (``/_...`` requests
are not counted), so a test can check that a client reuses its connection.

Images in a request (Anthropic ``image`` blocks, OpenAI ``image_url`` parts with a ``data:``
URL) are checked as the real APIs check them: only in user messages, base64 that decodes, a
PNG/JPEG/GIF/WebP type that matches the bytes; anything else gets a 400
``invalid_request_error`` without using a scripted reply.

Replies (dicts) understood by the server:

``text``            assistant text (``chunks``: how many deltas; default pieces of ~8 chars)
``thinking``        reasoning text streamed before the answer (Anthropic thinking block with
                    signature ``sig-123``; OpenAI ``delta.reasoning_content``)
``tool_calls``      list of ``{"id", "name", "arguments"}``; ``arguments`` is a dict (sent as
                    JSON) or a str (sent verbatim, so malformed JSON can be scripted);
                    ``args_chunks`` (default 3) fragments per call,
                    ``whole_call_chunk`` / ``omit_ids`` for OpenAI quirks
``status``          HTTP error reply with ``body`` (dict -> JSON, str -> text) and ``headers``
``stop``            ``end_turn`` (default) / ``max_tokens`` / ``tool_use`` / ``stop_sequence``
                    (the OpenAI names ``stop`` / ``length`` / ``tool_calls`` work too)
``cut``             stream the content, then drop the connection before the terminal events
``error_event``     ``{"type", "message"}``: stream the content, then an in-stream error
``delay``           seconds before the response starts; ``chunk_delay``: seconds between events
``usage``           ``{"input_tokens", "output_tokens"}`` (defaults estimated from lengths)
``split_utf8``      write each event holding a multi-byte character in two TCP writes, split
                    inside that character
``framing``         ``"chunked"`` (default: chunked transfer encoding, keep-alive; a cut shows
                    up as an incomplete body) or ``"close"`` (body delimited by closing the
                    connection; a cut then looks like a clean end of stream)
``keepalive``       seconds between SSE comment lines (``: ping``) sent after the content in
                    place of the terminal events, until the client hangs up (at most
                    ``KEEPALIVE_LIMIT`` seconds): a stream that stays open but never ends
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import itertools
import json
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, cast

Reply = dict[str, Any]
RecordedRequest = dict[str, Any]

NO_REPLY_MESSAGE = "scripted server: no reply queued"
THINKING_SIGNATURE = "sig-123"
DEFAULT_MODEL = "scripted-model"
DEFAULT_MODELS: list[dict[str, Any]] = [{"id": DEFAULT_MODEL}]
DEFAULT_PIECE_CHARS = 8
DEFAULT_ARGS_CHUNKS = 3
SPLIT_PAUSE = 0.01
KEEPALIVE_LIMIT = 600.0
KEEPALIVE_COMMENT = b": ping\n\n"

ANTHROPIC_PATHS = frozenset({"/v1/messages", "/messages"})
OPENAI_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
MODELS_PATHS = frozenset({"/v1/models", "/models"})

REPLY_KEYS = frozenset(
    {
        "text",
        "chunks",
        "thinking",
        "tool_calls",
        "args_chunks",
        "whole_call_chunk",
        "omit_ids",
        "status",
        "body",
        "headers",
        "stop",
        "cut",
        "error_event",
        "delay",
        "chunk_delay",
        "usage",
        "split_utf8",
        "framing",
        "keepalive",
    }
)
TOOL_CALL_KEYS = frozenset({"id", "name", "arguments"})

# Script stop names (either API's spelling) -> (Anthropic stop_reason, OpenAI finish_reason).
STOP_REASONS: dict[str, tuple[str, str]] = {
    "end_turn": ("end_turn", "stop"),
    "stop": ("end_turn", "stop"),
    "max_tokens": ("max_tokens", "length"),
    "length": ("max_tokens", "length"),
    "tool_use": ("tool_use", "tool_calls"),
    "tool_calls": ("tool_use", "tool_calls"),
    "stop_sequence": ("stop_sequence", "stop"),
    "refusal": ("refusal", "content_filter"),
    "content_filter": ("refusal", "content_filter"),
}


# --------------------------------------------------------------------------------------------
# Script validation and helpers
# --------------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def validate_reply(reply: object) -> Reply:
    """Check one scripted reply and return a shallow copy; raise ValueError when malformed."""
    if not isinstance(reply, dict):
        raise ValueError(f"reply must be a dict, got {type(reply).__name__}")
    unknown = set(reply) - REPLY_KEYS
    if unknown:
        raise ValueError(f"unknown reply key(s) {sorted(unknown)} in {reply!r}")
    checks: list[tuple[str, bool]] = [
        ("text", isinstance(reply.get("text", ""), str)),
        ("thinking", isinstance(reply.get("thinking", ""), str)),
        ("chunks", _positive_int_or_none(reply.get("chunks"))),
        ("args_chunks", _positive_int_or_none(reply.get("args_chunks"))),
        ("status", reply.get("status") is None or _is_status(reply.get("status"))),
        ("body", reply.get("body") is None or isinstance(reply.get("body"), dict | list | str)),
        ("headers", _is_str_map(reply.get("headers", {}))),
        ("stop", reply.get("stop") is None or reply.get("stop") in STOP_REASONS),
        ("delay", _is_number(reply.get("delay", 0))),
        ("chunk_delay", _is_number(reply.get("chunk_delay", 0))),
        ("keepalive", reply.get("keepalive") is None or _is_number(reply.get("keepalive"))),
        ("usage", isinstance(reply.get("usage", {}), dict)),
        ("framing", reply.get("framing", "chunked") in ("chunked", "close")),
        ("error_event", isinstance(reply.get("error_event", {}), dict)),
        ("tool_calls", isinstance(reply.get("tool_calls", []), list)),
    ]
    for key, ok in checks:
        if not ok:
            raise ValueError(f"bad value for {key!r} in reply {reply!r}")
    for call in reply.get("tool_calls", []):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ValueError(f"tool call needs a 'name': {call!r}")
        if set(call) - TOOL_CALL_KEYS:
            raise ValueError(f"unknown tool call key(s) {sorted(set(call) - TOOL_CALL_KEYS)}")
        if not isinstance(call.get("arguments", {}), dict | str):
            raise ValueError(f"tool call arguments must be a dict or a str: {call!r}")
        if call.get("id") is not None and not isinstance(call.get("id"), str):
            raise ValueError(f"tool call id must be a str: {call!r}")
    return dict(reply)


def _positive_int_or_none(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0)


def _is_status(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def split_text(text: str, pieces: int | None = None) -> list[str]:
    """Split ``text`` into ``pieces`` nearly equal parts (default: parts of ~8 characters)."""
    if not text:
        return []
    if pieces is None:
        pieces = -(-len(text) // DEFAULT_PIECE_CHARS)
    pieces = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), pieces)
    out: list[str] = []
    pos = 0
    for i in range(pieces):
        step = size + (1 if i < extra else 0)
        out.append(text[pos : pos + step])
        pos += step
    return out


def dumps(obj: object) -> str:
    """Compact JSON with raw UTF-8, as the real APIs send it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def sse(event: str | None, data: object) -> bytes:
    """Encode one server-sent event (``data`` is JSON-encoded unless already a str)."""
    payload = data if isinstance(data, str) else dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def utf8_split_point(data: bytes) -> int | None:
    """Index just after the lead byte of the first multi-byte UTF-8 character, if any."""
    for i, byte in enumerate(data):
        if byte >= 0xC0:
            return i + 1
    return None


def load_script(source: str | Path) -> dict[str, Any]:
    """Read a script file: ``{"replies": [...], "models": [...]}`` or a bare list of replies."""
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    return _normalise_script(data)


def _normalise_script(data: object) -> dict[str, Any]:
    if data is None:
        return {"replies": [], "models": None}
    if isinstance(data, list):
        return {"replies": data, "models": None}
    if isinstance(data, dict):
        unknown = set(data) - {"replies", "models"}
        if unknown:
            raise ValueError(f"unknown script key(s): {sorted(unknown)}")
        replies = data.get("replies", [])
        if not isinstance(replies, list):
            raise ValueError("script 'replies' must be a list")
        return {"replies": replies, "models": data.get("models")}
    raise ValueError(f"script must be a list of replies or a dict, got {type(data).__name__}")


def _model_entries(models: object) -> list[dict[str, Any]]:
    if models is None:
        models = DEFAULT_MODELS
    if not isinstance(models, list):
        raise ValueError("script 'models' must be a list")
    out: list[dict[str, Any]] = []
    for entry in models:
        if isinstance(entry, str):
            entry = {"id": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise ValueError(f"model entry needs an 'id': {entry!r}")
        out.append({"id": entry["id"], "object": "model", "created": 0, "owned_by": "scripted"})
        out[-1].update(entry)
    return out


# --------------------------------------------------------------------------------------------
# Turning a reply into wire events
# --------------------------------------------------------------------------------------------


@dataclass
class _ToolCall:
    id: str | None
    name: str
    arguments: str
    fragments: list[str]

    @property
    def parsed(self) -> Any:
        try:
            return json.loads(self.arguments)
        except ValueError:
            return {}


@dataclass
class _Plan:
    """Everything needed to render one reply in either wire format."""

    model: str
    thinking: str
    text: str
    text_pieces: list[str]
    tool_calls: list[_ToolCall]
    stop: str
    input_tokens: int
    output_tokens: int
    whole_call_chunk: bool = False
    omit_ids: bool = False
    include_usage: bool = False
    error_event: dict[str, Any] | None = None

    @property
    def anthropic_stop(self) -> str:
        return STOP_REASONS[self.stop][0]

    @property
    def openai_finish(self) -> str:
        return STOP_REASONS[self.stop][1]


class _Ids:
    """Per-prefix counters: ``msg_scripted_000001``, ``call_000001``, ..."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def next(self, prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            return f"{prefix}{next(counter):06d}"


def _make_plan(reply: Reply, request: object, ids: _Ids, prefix: str) -> _Plan:
    req = request if isinstance(request, dict) else {}
    model = req.get("model") if isinstance(req.get("model"), str) else DEFAULT_MODEL
    text = cast(str, reply.get("text", ""))
    thinking = cast(str, reply.get("thinking", ""))
    args_chunks = cast("int | None", reply.get("args_chunks")) or DEFAULT_ARGS_CHUNKS
    calls: list[_ToolCall] = []
    for call in cast(list[dict[str, Any]], reply.get("tool_calls", [])):
        raw = call.get("arguments", {})
        args = raw if isinstance(raw, str) else dumps(raw)
        call_id = call.get("id") or ids.next(prefix)
        calls.append(_ToolCall(call_id, call["name"], args, split_text(args, args_chunks) or [""]))
    stop = cast("str | None", reply.get("stop")) or ("tool_use" if calls else "end_turn")
    usage = cast(dict[str, Any], reply.get("usage", {}))
    produced = len(text) + len(thinking) + sum(len(c.name) + len(c.arguments) for c in calls)
    input_tokens = usage.get("input_tokens", usage.get("prompt_tokens"))
    output_tokens = usage.get("output_tokens", usage.get("completion_tokens"))
    stream_options = req.get("stream_options")
    return _Plan(
        model=cast(str, model),
        thinking=thinking,
        text=text,
        text_pieces=split_text(text, cast("int | None", reply.get("chunks"))),
        tool_calls=calls,
        stop=stop,
        input_tokens=int(input_tokens) if input_tokens is not None else _estimate(req),
        output_tokens=int(output_tokens) if output_tokens is not None else max(1, produced // 4),
        whole_call_chunk=bool(reply.get("whole_call_chunk")),
        omit_ids=bool(reply.get("omit_ids")),
        include_usage=isinstance(stream_options, dict)
        and bool(stream_options.get("include_usage")),
        error_event=cast("dict[str, Any] | None", reply.get("error_event")),
    )


def _estimate(request: Mapping[str, Any]) -> int:
    parts = [request.get(k) for k in ("system", "messages", "tools")]
    return max(1, len(dumps([p for p in parts if p is not None])) // 4)


def _error_detail(plan: _Plan) -> dict[str, Any]:
    event = plan.error_event or {}
    return {
        "type": str(event.get("type", "api_error")),
        "message": str(event.get("message", "scripted error")),
    }


def anthropic_events(plan: _Plan, message_id: str) -> tuple[list[bytes], list[bytes]]:
    """Anthropic SSE events: (content events, terminal events)."""
    events = [
        sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": plan.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": plan.input_tokens, "output_tokens": 1},
                },
            },
        )
    ]
    index = 0

    def block(start: dict[str, Any], deltas: Iterable[dict[str, Any]]) -> None:
        nonlocal index
        events.append(
            sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        if index == 0:
            events.append(sse("ping", {"type": "ping"}))
        for delta in deltas:
            events.append(
                sse(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1

    if plan.thinking:
        thinking_deltas: list[dict[str, Any]] = [
            {"type": "thinking_delta", "thinking": piece} for piece in split_text(plan.thinking)
        ]
        thinking_deltas.append({"type": "signature_delta", "signature": THINKING_SIGNATURE})
        block({"type": "thinking", "thinking": "", "signature": ""}, thinking_deltas)
    if plan.text or not plan.tool_calls:
        block(
            {"type": "text", "text": ""},
            ({"type": "text_delta", "text": piece} for piece in plan.text_pieces),
        )
    for call in plan.tool_calls:
        block(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": {}},
            ({"type": "input_json_delta", "partial_json": frag} for frag in call.fragments),
        )
    terminal = [
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": plan.anthropic_stop, "stop_sequence": None},
                "usage": {"output_tokens": plan.output_tokens},
            },
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return events, terminal


def anthropic_error_event(plan: _Plan) -> bytes:
    return sse("error", {"type": "error", "error": _error_detail(plan)})


def anthropic_message(plan: _Plan, message_id: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if plan.thinking:
        content.append(
            {"type": "thinking", "thinking": plan.thinking, "signature": THINKING_SIGNATURE}
        )
    if plan.text or not plan.tool_calls:
        content.append({"type": "text", "text": plan.text})
    for call in plan.tool_calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.parsed})
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": plan.anthropic_stop,
        "stop_sequence": None,
        "usage": {"input_tokens": plan.input_tokens, "output_tokens": plan.output_tokens},
    }


def _openai_usage(plan: _Plan) -> dict[str, int]:
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
    }


def openai_events(plan: _Plan, completion_id: str, created: int) -> tuple[list[bytes], list[bytes]]:
    """OpenAI chat.completion.chunk SSE lines: (content events, terminal events)."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": plan.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if plan.include_usage:
            obj["usage"] = None
        return sse(None, obj)

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"reasoning_content": piece}) for piece in split_text(plan.thinking)]
    events += [chunk({"content": piece}) for piece in plan.text_pieces]
    for index, call in enumerate(plan.tool_calls):
        head: dict[str, Any] = {"index": index}
        if not plan.omit_ids:
            head["id"] = call.id
        head["type"] = "function"
        if plan.whole_call_chunk:
            head["function"] = {"name": call.name, "arguments": call.arguments}
            events.append(chunk({"tool_calls": [head]}))
            continue
        head["function"] = {"name": call.name, "arguments": ""}
        events.append(chunk({"tool_calls": [head]}))
        for frag in call.fragments:
            part = {"index": index, "function": {"arguments": frag}}
            events.append(chunk({"tool_calls": [part]}))
    terminal = [chunk({}, plan.openai_finish)]
    if plan.include_usage:
        terminal.append(
            sse(
                None,
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": plan.model,
                    "choices": [],
                    "usage": _openai_usage(plan),
                },
            )
        )
    terminal.append(sse(None, "[DONE]"))
    return events, terminal


def openai_error_event(plan: _Plan) -> bytes:
    return sse(None, {"error": _error_detail(plan)})


def openai_completion(plan: _Plan, completion_id: str, created: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": plan.text or None}
    if plan.thinking:
        message["reasoning_content"] = plan.thinking
    if plan.tool_calls:
        calls: list[dict[str, Any]] = []
        for call in plan.tool_calls:
            entry: dict[str, Any] = {} if plan.omit_ids else {"id": call.id}
            entry["type"] = "function"
            entry["function"] = {"name": call.name, "arguments": call.arguments}
            calls.append(entry)
        message["tool_calls"] = calls
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": plan.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": plan.openai_finish}
        ],
        "usage": _openai_usage(plan),
    }


def default_error_body(fmt: str, status: int) -> dict[str, Any]:
    """An error body shaped like the given API's, for replies without a ``body``."""
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    kind = kinds.get(status, "api_error")
    message = f"scripted HTTP {status}"
    if fmt == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# --------------------------------------------------------------------------------------------
# Images in requests: checked as the real APIs check them
# --------------------------------------------------------------------------------------------

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_MAGIC = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8\xff", "image/gif": b"GIF8"}


def image_problem(fmt: str, body: Any) -> str | None:
    """Why the images in a request would be refused (None: there are none, or all are fine):
    only in user messages, base64 that decodes, a supported type that matches the bytes."""
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            image = _image_of(fmt, part)
            if image is None:
                continue
            if message.get("role") != "user":
                return f"images are only allowed in user messages, not {message.get('role')}"
            problem = _bad_image(*image)
            if problem:
                return problem
    return None


def _image_of(fmt: str, part: Any) -> tuple[str, str] | None:
    """(media type, base64 data) of an image part in either format; None for other parts."""
    if not isinstance(part, dict):
        return None
    if fmt == "anthropic" and part.get("type") == "image":
        source = part.get("source") or {}
        if source.get("type") != "base64":
            return ("", "")
        return (str(source.get("media_type")), str(source.get("data")))
    if fmt == "openai" and part.get("type") == "image_url":
        url = str((part.get("image_url") or {}).get("url", ""))
        head, _, data = url.partition(",")
        if not (head.startswith("data:") and head.endswith(";base64")):
            return ("", "")
        return (head[len("data:") : -len(";base64")], data)
    return None


def _bad_image(media_type: str, data: str) -> str | None:
    if media_type not in IMAGE_TYPES:
        return f"unsupported image media type {media_type!r}"
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error:
        return "image data is not valid base64"
    magic = _MAGIC.get(media_type)
    fits = raw.startswith(magic) if magic else raw[:4] == b"RIFF" and raw[8:12] == b"WEBP"
    return None if fits else f"image does not match the provided media type {media_type}"


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # ScriptedServer.close() ends open connections itself
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: ScriptedServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ScriptedServer/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are dropped after this many seconds
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls between small writes

    _chunked = False
    _counted = False  # this connection has carried a recorded request

    @property
    def owner(self) -> ScriptedServer:
        return cast(_HTTPServer, self.server).owner

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        self.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.owner._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    # ---- request side -------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        try:
            raw = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send_json(400, {"error": {"message": "scripted server: unreadable body"}})
            return
        path = self.path.split("?", 1)[0]
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        if not path.startswith("/_"):
            request = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "json": body,
                "at": time.monotonic(),
            }
            self.owner._record(request, new_connection=not self._counted, size=len(raw))
            self._counted = True
        try:
            self._route(path, body, raw)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _route(self, path: str, body: Any, raw: bytes) -> None:
        method = self.command
        if method == "POST" and path in ANTHROPIC_PATHS:
            self._model_reply("anthropic", body)
        elif method == "POST" and path in OPENAI_PATHS:
            self._model_reply("openai", body)
        elif method == "GET" and path in MODELS_PATHS:
            self._send_json(200, {"object": "list", "data": self.owner.models})
        elif method == "GET" and path == "/health":
            self._send_json(200, {"status": "ok"})
        elif method == "POST" and path == "/_script":
            try:
                replies = _normalise_script(body)["replies"] if raw else []
                count = self.owner.enqueue(*replies)
            except ValueError as exc:
                self._send_json(400, {"error": {"message": f"scripted server: {exc}"}})
                return
            self._send_json(200, {"queued": count, "pending": self.owner.pending})
        elif method == "GET" and path == "/_stats":
            self._send_json(200, self.owner.stats())
        elif method == "GET" and path == "/_requests":
            self._send_json(200, self.owner.requests)
        elif method == "DELETE" and path == "/_requests":
            self.owner.clear_requests()
            self._send_json(200, {"cleared": True})
        else:
            message = f"scripted server: no route for {method} {path}"
            self._send_json(404, {"error": {"message": message}})

    # ---- response side ------------------------------------------------------------------

    def _send_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        *,
        truncate: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.wfile.write(data)

    def _send_json(
        self,
        status: int,
        obj: object,
        headers: Mapping[str, str] | None = None,
        *,
        truncate: bool = False,
    ) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode()
        self._send_bytes(status, data, "application/json", headers, truncate=truncate)

    def _model_reply(self, fmt: str, body: Any) -> None:
        problem = image_problem(fmt, body)
        if problem is not None:  # refused before any reply is used, as a real API would
            refusal = default_error_body(fmt, 400)
            refusal["error"]["message"] = problem
            self._send_json(400, refusal)
            return
        reply = self.owner._pop_reply()
        if reply is None:
            self._send_json(500, {"error": {"message": NO_REPLY_MESSAGE}})
            return
        delay = float(reply.get("delay", 0))
        if delay:
            time.sleep(delay)
        extra_headers = cast(dict[str, str], reply.get("headers", {}))
        status = reply.get("status")
        if status is not None:
            payload = reply.get("body")
            if payload is None:
                payload = default_error_body(fmt, int(status))
            if isinstance(payload, str):
                data = payload.encode()
                self._send_bytes(int(status), data, "text/plain; charset=utf-8", extra_headers)
            else:
                self._send_json(int(status), payload, extra_headers)
            return
        ids = self.owner._ids
        plan = _make_plan(reply, body, ids, "toolu_scripted_" if fmt == "anthropic" else "call_")
        headers = dict(extra_headers)
        if fmt == "anthropic":
            headers.setdefault("request-id", ids.next("req_scripted_"))
        else:
            headers.setdefault("x-request-id", ids.next("req_scripted_"))
        streaming = isinstance(body, dict) and body.get("stream") is True
        if not streaming:
            self._non_streamed(fmt, plan, reply, headers)
            return
        created = int(time.time())
        if fmt == "anthropic":
            events, terminal = anthropic_events(plan, ids.next("msg_scripted_"))
            error = anthropic_error_event(plan)
        else:
            events, terminal = openai_events(plan, ids.next("chatcmpl-scripted_"), created)
            error = openai_error_event(plan)
        keepalive = reply.get("keepalive")
        if reply.get("cut") or keepalive is not None:
            terminal = []
        elif plan.error_event is not None:
            terminal = [error]
        self._stream(
            events + terminal,
            headers,
            framing=str(reply.get("framing", "chunked")),
            chunk_delay=float(reply.get("chunk_delay", 0)),
            split_utf8=bool(reply.get("split_utf8")),
            complete=not reply.get("cut"),
            keepalive=float(keepalive) if keepalive is not None else None,
        )

    def _non_streamed(self, fmt: str, plan: _Plan, reply: Reply, headers: dict[str, str]) -> None:
        if plan.error_event is not None:
            detail = _error_detail(plan)
            overloaded = detail["type"] == "overloaded_error"
            if fmt == "anthropic":
                status = 529 if overloaded else 500
                self._send_json(status, {"type": "error", "error": detail}, headers)
            else:
                status = 503 if overloaded else 500
                error = {"message": detail["message"], "type": detail["type"], "code": None}
                self._send_json(status, {"error": error}, headers)
            return
        ids = self.owner._ids
        if fmt == "anthropic":
            obj = anthropic_message(plan, ids.next("msg_scripted_"))
        else:
            obj = openai_completion(plan, ids.next("chatcmpl-scripted_"), int(time.time()))
        self._send_json(200, obj, headers, truncate=bool(reply.get("cut")))

    def _stream(
        self,
        events: list[bytes],
        headers: Mapping[str, str],
        *,
        framing: str,
        chunk_delay: float,
        split_utf8: bool,
        complete: bool,
        keepalive: float | None = None,
    ) -> None:
        self._chunked = framing == "chunked"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        if self._chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        for i, event in enumerate(events):
            if i and chunk_delay:
                time.sleep(chunk_delay)
            cut_at = utf8_split_point(event) if split_utf8 else None
            if cut_at is None:
                self._write_piece(event)
            else:
                self._write_piece(event[:cut_at])
                time.sleep(SPLIT_PAUSE)
                self._write_piece(event[cut_at:])
        if keepalive is not None:
            self._keep_alive(keepalive)
            return
        if not complete:
            # Drop the connection: with chunked framing the client sees an incomplete body,
            # with close framing an early (but clean-looking) end of stream.
            self.close_connection = True
        elif self._chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _keep_alive(self, every: float) -> None:
        """Send comment lines, which carry no event, until the client goes away."""
        end = time.monotonic() + KEEPALIVE_LIMIT
        while time.monotonic() < end:
            time.sleep(every)
            self._write_piece(KEEPALIVE_COMMENT)  # raises once the client has hung up
        self.close_connection = True

    def _write_piece(self, data: bytes) -> None:
        if self._chunked:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self.wfile.write(data)
        self.wfile.flush()


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class ScriptedServer:
    """A scripted model server on 127.0.0.1, run in a daemon thread.

    ``script`` is a list of replies or ``{"replies": [...], "models": [...]}``.
    """

    def __init__(
        self,
        script: Iterable[Reply] | Mapping[str, Any] | None = None,
        *,
        models: list[Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if script is None or isinstance(script, Mapping):
            normalised = _normalise_script(dict(script) if script is not None else None)
        else:
            normalised = _normalise_script(list(script))
        self.models: list[dict[str, Any]] = _model_entries(
            models if models is not None else normalised["models"]
        )
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._accepted = 0
        self._received = 0
        self._ids = _Ids()
        self._host = host
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.enqueue(*normalised["replies"])

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Bind and start serving in a daemon thread (idempotent)."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self._host, self._port), self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"scripted-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, drop open connections and release the port (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- addresses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("ScriptedServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self._host in ("127.0.0.1", "0.0.0.0", "") else self._host
        return f"http://{host}:{self.port}"

    def url(self, path: str = "") -> str:
        return self.base_url + path

    # ---- script and records -------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> int:
        """Append replies to the queue (all validated first); return how many were added."""
        checked = [validate_reply(reply) for reply in replies]
        with self._lock:
            self._queue.extend(checked)
        return len(checked)

    @property
    def pending(self) -> int:
        """How many replies are still queued."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the recorded requests (control ``/_...`` requests excluded)."""
        with self._lock:
            return list(self._requests)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        """Only the recorded POSTs to the Messages / Chat Completions endpoints."""
        paths = ANTHROPIC_PATHS | OPENAI_PATHS
        return [r for r in self.requests if r["path"].split("?", 1)[0] in paths]

    @property
    def connections(self) -> int:
        """How many TCP connections carried a recorded request (``/_...`` ones not counted)."""
        with self._lock:
            return self._accepted

    @property
    def bytes_received(self) -> int:
        """Request body bytes received in recorded requests."""
        with self._lock:
            return self._received

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def stats(self) -> dict[str, int]:
        """Recorded requests, the connections they came on and their body bytes."""
        with self._lock:
            return {
                "requests": len(self._requests),
                "connections": self._accepted,
                "bytes_received": self._received,
            }

    def reset(self) -> None:
        """Drop queued replies, forget the recorded requests and zero the counters."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._accepted = 0
            self._received = 0

    # ---- used by the handler ------------------------------------------------------------

    def _pop_reply(self) -> Reply | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _record(self, request: RecordedRequest, *, new_connection: bool, size: int) -> None:
        with self._lock:
            self._requests.append(request)
            self._accepted += new_connection
            self._received += size

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


# --------------------------------------------------------------------------------------------
# Standalone entry point
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted fake Anthropic/OpenAI model server.")
    parser.add_argument("--script", help='JSON file: {"replies": [...], "models": [...]}')
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    args = parser.parse_args(argv)
    try:
        script = load_script(args.script) if args.script else None
        server = ScriptedServer(script, host=args.host, port=args.port)
    except (OSError, ValueError) as exc:
        print(f"scripted_server: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    try:
        print(server.base_url, flush=True)
        while not stop.wait(0.1):
            pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
