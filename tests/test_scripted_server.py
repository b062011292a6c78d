"""Tests for the scripted fake model server used by the CLI tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scripted_server import ScriptedServer

SERVER_SCRIPT = Path(__file__).with_name("scripted_server.py")
TWO_CALLS: list[dict[str, Any]] = [
    {"id": "call_1", "name": "read_file", "arguments": {"path": "a.txt"}},
    {"id": "call_2", "name": "list_dir", "arguments": {"path": ".", "depth": 2}},
]


@dataclass
class Event:
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(lines: Iterable[str]) -> list[Event]:
    """A minimal SSE parser: ``event:`` / ``data:`` fields, events end at a blank line."""
    events: list[Event] = []
    name: str | None = None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                events.append(Event(name, "\n".join(data)))
            name, data = None, []
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
    if data:
        events.append(Event(name, "\n".join(data)))
    return events


def stream_events(client: httpx.Client, path: str, body: dict[str, Any]) -> list[Event]:
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.iter_lines())


def stream_until_cut(client: httpx.Client, path: str, body: dict[str, Any]) -> list[str]:
    """Read a stream that may end with a transport error; return the lines received."""
    lines: list[str] = []
    with client.stream("POST", path, json=body) as response:
        try:
            for line in response.iter_lines():
                lines.append(line)
        except httpx.RemoteProtocolError:
            pass
    return lines


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    # One client for the module: building an httpx.Client (SSL context) costs ~0.1 s.
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture
def server(shared_server: ScriptedServer) -> ScriptedServer:
    shared_server.reset()
    return shared_server


@pytest.fixture
def client(server: ScriptedServer, http: httpx.Client) -> httpx.Client:
    http.base_url = httpx.URL(server.base_url)
    return http


# --------------------------------------------------------------------------------------------
# Anthropic Messages
# --------------------------------------------------------------------------------------------


def test_anthropic_stream_text(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"text": "hello world", "chunks": 3, "usage": {"output_tokens": 5}})
    events = stream_events(client, "/v1/messages", {"model": "claude-x", "stream": True})
    assert all(e.event == e.json()["type"] for e in events)
    names = [e.event for e in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    message = events[0].json()["message"]
    assert message["id"].startswith("msg_")
    assert message["role"] == "assistant"
    assert message["model"] == "claude-x"
    assert message["usage"]["input_tokens"] >= 1
    assert events[1].json()["content_block"] == {"type": "text", "text": ""}
    deltas = [e.json()["delta"] for e in events if e.event == "content_block_delta"]
    assert {d["type"] for d in deltas} == {"text_delta"}
    assert "".join(d["text"] for d in deltas) == "hello world"
    final = events[-2].json()
    assert final["delta"]["stop_reason"] == "end_turn"
    assert final["usage"]["output_tokens"] == 5


def test_anthropic_stream_thinking_then_text(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"thinking": "let me think about it", "text": "ok"})
    events = stream_events(client, "/messages", {"model": "m", "stream": True})
    starts = [e.json() for e in events if e.event == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["thinking", "text"]
    deltas = [e.json() for e in events if e.event == "content_block_delta"]
    thinking = [d["delta"] for d in deltas if d["index"] == 0]
    assert thinking[-1] == {"type": "signature_delta", "signature": "sig-123"}
    text = "".join(d["thinking"] for d in thinking if d["type"] == "thinking_delta")
    assert text == "let me think about it"


def test_anthropic_stream_two_tool_calls(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"tool_calls": TWO_CALLS, "text": "Let me look."})
    events = stream_events(client, "/v1/messages", {"model": "m", "stream": True})
    blocks: dict[int, dict[str, Any]] = {}
    fragments: dict[int, list[str]] = {}
    for e in events:
        payload = e.json()
        if e.event == "content_block_start":
            blocks[payload["index"]] = payload["content_block"]
        elif e.event == "content_block_delta" and payload["delta"]["type"] == "input_json_delta":
            fragments.setdefault(payload["index"], []).append(payload["delta"]["partial_json"])
    assert blocks[0]["type"] == "text"
    assert blocks[1] == {"type": "tool_use", "id": "call_1", "name": "read_file", "input": {}}
    assert blocks[2] == {"type": "tool_use", "id": "call_2", "name": "list_dir", "input": {}}
    assert all(len(parts) > 1 for parts in fragments.values())
    assert json.loads("".join(fragments[1])) == {"path": "a.txt"}
    assert json.loads("".join(fragments[2])) == {"path": ".", "depth": 2}
    assert events[-2].json()["delta"]["stop_reason"] == "tool_use"
    assert events[-1].event == "message_stop"


def test_anthropic_non_streamed(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue(
        {"text": "hi", "thinking": "hmm", "tool_calls": TWO_CALLS[:1]},
        {"text": "long", "stop": "max_tokens"},
    )
    body = client.post("/v1/messages", json={"model": "m"}).json()
    assert body["type"] == "message"
    assert body["stop_reason"] == "tool_use"
    assert body["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig-123"},
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "call_1", "name": "read_file", "input": {"path": "a.txt"}},
    ]
    assert set(body["usage"]) == {"input_tokens", "output_tokens"}
    second = client.post("/v1/messages", json={"model": "m"}).json()
    assert second["stop_reason"] == "max_tokens"


def test_anthropic_max_tokens_and_error_event(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue(
        {"text": "truncated", "stop": "max_tokens"},
        {"text": "partial", "error_event": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    events = stream_events(client, "/v1/messages", {"model": "m", "stream": True})
    assert events[-2].json()["delta"]["stop_reason"] == "max_tokens"
    events = stream_events(client, "/v1/messages", {"model": "m", "stream": True})
    assert events[-1].event == "error"
    assert events[-1].json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert "message_stop" not in [e.event for e in events]


# --------------------------------------------------------------------------------------------
# OpenAI Chat Completions
# --------------------------------------------------------------------------------------------


def test_openai_stream_text_with_usage(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"text": "hello world", "chunks": 2, "thinking": "hm"})
    body = {"model": "gpt-x", "stream": True, "stream_options": {"include_usage": True}}
    events = stream_events(client, "/v1/chat/completions", body)
    assert all(e.event is None for e in events)
    assert events[-1].data == "[DONE]"
    chunks = [e.json() for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-x" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "hm"
    assert [d["content"] for d in deltas if d.get("content")] == ["hello ", "world"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_openai_stream_without_usage_option(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"text": "x", "stop": "max_tokens"})
    events = stream_events(client, "/chat/completions", {"model": "m", "stream": True})
    assert events[-1].data == "[DONE]"
    last = events[-2].json()
    assert last["choices"][0]["finish_reason"] == "length"
    assert "usage" not in last


def _collect_tool_calls(events: list[Event]) -> tuple[dict[int, dict[str, Any]], list[Any]]:
    calls: dict[int, dict[str, Any]] = {}
    raw: list[Any] = []
    for e in events:
        if e.data == "[DONE]":
            continue
        for choice in e.json()["choices"]:
            for frag in choice["delta"].get("tool_calls", []):
                raw.append(frag)
                call = calls.setdefault(frag["index"], {"arguments": ""})
                if "id" in frag:
                    call["id"] = frag["id"]
                if "name" in frag.get("function", {}):
                    call["name"] = frag["function"]["name"]
                call["arguments"] += frag["function"].get("arguments", "")
    return calls, raw


def test_openai_stream_two_tool_calls(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"tool_calls": TWO_CALLS})
    events = stream_events(client, "/v1/chat/completions", {"model": "m", "stream": True})
    calls, raw = _collect_tool_calls(events)
    assert calls[0]["id"] == "call_1" and calls[0]["name"] == "read_file"
    assert calls[1]["id"] == "call_2" and calls[1]["name"] == "list_dir"
    assert json.loads(calls[0]["arguments"]) == {"path": "a.txt"}
    assert json.loads(calls[1]["arguments"]) == {"path": ".", "depth": 2}
    firsts = [f for f in raw if "id" in f]
    assert firsts == [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "read_file", "arguments": ""},
        },
        {
            "index": 1,
            "id": "call_2",
            "type": "function",
            "function": {"name": "list_dir", "arguments": ""},
        },
    ]
    later = [f for f in raw if "id" not in f]
    assert len(later) >= 4
    assert all(
        set(f) == {"index", "function"} and set(f["function"]) == {"arguments"} for f in later
    )
    finish = [e.json()["choices"][0]["finish_reason"] for e in events[:-1]]
    assert finish[-1] == "tool_calls"
    assert events[-1].data == "[DONE]"


def test_openai_whole_call_chunk_and_omit_ids(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"tool_calls": TWO_CALLS, "whole_call_chunk": True, "omit_ids": True})
    events = stream_events(client, "/v1/chat/completions", {"model": "m", "stream": True})
    calls, raw = _collect_tool_calls(events)
    assert len(raw) == 2
    assert all("id" not in f for f in raw)
    assert json.loads(raw[1]["function"]["arguments"]) == {"path": ".", "depth": 2}
    assert calls[0]["name"] == "read_file"


def test_openai_non_streamed(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"text": "Reading.", "tool_calls": TWO_CALLS}, {"text": "plain"})
    body = client.post("/v1/chat/completions", json={"model": "m"}).json()
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["role"] == "assistant" and message["content"] == "Reading."
    assert [c["id"] for c in message["tool_calls"]] == ["call_1", "call_2"]
    assert message["tool_calls"][0]["type"] == "function"
    assert isinstance(message["tool_calls"][0]["function"]["arguments"], str)
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"path": "a.txt"}
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    plain = client.post("/v1/chat/completions", json={"model": "m"}).json()
    assert plain["choices"][0]["message"] == {"role": "assistant", "content": "plain"}
    assert plain["choices"][0]["finish_reason"] == "stop"


def test_openai_error_event(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"text": "part", "error_event": {"type": "server_error", "message": "boom"}})
    events = stream_events(client, "/v1/chat/completions", {"model": "m", "stream": True})
    assert events[-1].json() == {"error": {"type": "server_error", "message": "boom"}}
    assert "[DONE]" not in [e.data for e in events]


# --------------------------------------------------------------------------------------------
# Shared behaviour
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_error_reply_with_retry_after(
    server: ScriptedServer, client: httpx.Client, path: str
) -> None:
    server.enqueue(
        {
            "status": 429,
            "body": {"error": {"message": "slow down"}},
            "headers": {"retry-after": "1"},
        },
        {"status": 503, "body": "upstream unavailable"},
        {"status": 529},
        {"text": "after"},
    )
    first = client.post(path, json={"model": "m", "stream": True})
    assert first.status_code == 429
    assert first.headers["retry-after"] == "1"
    assert first.json() == {"error": {"message": "slow down"}}
    second = client.post(path, json={"model": "m"})
    assert second.status_code == 503 and second.text == "upstream unavailable"
    third = client.post(path, json={"model": "m"})
    assert third.status_code == 529 and "error" in third.json()
    assert client.post(path, json={"model": "m"}).status_code == 200  # same keep-alive client


@pytest.mark.parametrize(
    ("path", "terminal"),
    [("/v1/messages", "message_stop"), ("/v1/chat/completions", "[DONE]")],
)
@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_cut_stream_has_no_terminal_event(
    server: ScriptedServer, client: httpx.Client, path: str, terminal: str, framing: str
) -> None:
    server.enqueue({"text": "partial answer", "cut": True, "framing": framing}, {"text": "next"})
    started = time.monotonic()
    lines = stream_until_cut(client, path, {"model": "m", "stream": True})
    assert time.monotonic() - started < 2
    text = "\n".join(lines)
    assert "partial" in text
    assert terminal not in text
    assert "message_delta" not in text and 'finish_reason":"stop' not in text
    # The client recovers on a fresh connection.
    assert client.post(path, json={"model": "m"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "terminal"),
    [("/v1/messages", "message_stop"), ("/v1/chat/completions", "[DONE]")],
)
def test_keepalive_sends_comments_instead_of_the_end(
    server: ScriptedServer, client: httpx.Client, path: str, terminal: str
) -> None:
    server.enqueue({"text": "partial answer", "keepalive": 0.01})
    lines: list[str] = []
    with client.stream("POST", path, json={"model": "m", "stream": True}) as response:
        for line in response.iter_lines():
            lines.append(line)
            if lines.count(": ping") == 3:
                break  # hanging up is the only way such a stream ends
    text = "\n".join(lines)
    assert "partial" in text and terminal not in text
    assert lines[-1] == ": ping"


def test_empty_queue_is_a_500(client: httpx.Client) -> None:
    response = client.post("/v1/messages", json={"model": "m", "stream": True})
    assert response.status_code == 500
    assert response.json() == {"error": {"message": "scripted server: no reply queued"}}


def test_split_utf8_reaches_the_client_in_pieces(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.enqueue({"text": "héllo wörld ✓", "chunks": 3, "split_utf8": True})
    raw: list[bytes] = []
    with client.stream("POST", "/v1/chat/completions", json={"stream": True}) as response:
        raw.extend(response.iter_raw())
    whole = b"".join(raw)
    events = parse_sse(whole.decode().split("\n"))
    content = [e.json()["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert "".join(c for c in content if c) == "héllo wörld ✓"

    def decodes(piece: bytes) -> bool:
        try:
            piece.decode()
        except UnicodeDecodeError:
            return False
        return True

    assert not all(decodes(piece) for piece in raw)


def test_delay_and_chunk_delay(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"text": "abcdef", "chunks": 3, "delay": 0.1, "chunk_delay": 0.02})
    started = time.monotonic()
    stream_events(client, "/v1/messages", {"model": "m", "stream": True})
    assert time.monotonic() - started >= 0.1 + 0.02 * 5


def test_models_and_health(client: httpx.Client) -> None:
    models = [{"id": "big", "max_model_len": 8192}, {"id": "small"}]
    with ScriptedServer({"models": models}) as srv:
        c = client
        c.base_url = httpx.URL(srv.base_url)
        listing = c.get("/v1/models").json()
        assert listing["object"] == "list"
        assert [m["id"] for m in listing["data"]] == ["big", "small"]
        assert listing["data"][0]["max_model_len"] == 8192
        assert all(m["object"] == "model" and m["owned_by"] == "scripted" for m in listing["data"])
        assert c.get("/models").json() == listing
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get("/nope").status_code == 404
    with ScriptedServer() as srv:
        c.base_url = httpx.URL(srv.base_url)
        assert [m["id"] for m in c.get("/v1/models").json()["data"]] == ["scripted-model"]


def test_requests_are_recorded(server: ScriptedServer, client: httpx.Client) -> None:
    server.enqueue({"text": "one"})
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    client.post("/v1/messages?beta=true", json=body, headers={"X-Api-Key": "secret"})
    client.get("/health")
    client.get("/_requests")
    recorded = server.requests
    assert [(r["method"], r["path"]) for r in recorded] == [
        ("POST", "/v1/messages?beta=true"),
        ("GET", "/health"),
    ]
    first = recorded[0]
    assert first["json"] == body
    assert first["headers"]["x-api-key"] == "secret"
    assert all(key == key.lower() for key in first["headers"])
    assert recorded[1]["json"] is None
    assert server.model_requests == [first]
    assert server.pending == 0


def test_enqueue_validates_replies() -> None:
    with pytest.raises(ValueError, match="unknown reply key"):
        ScriptedServer([{"txt": "typo"}])
    with pytest.raises(ValueError, match="name"):
        ScriptedServer([{"tool_calls": [{"arguments": {}}]}])


# --------------------------------------------------------------------------------------------
# Standalone process
# --------------------------------------------------------------------------------------------


def test_standalone_process(tmp_path: Path, http: httpx.Client) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps({"replies": [{"text": "from file"}], "models": [{"id": "file-model"}]})
    )
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--script", str(script), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        c = http
        c.base_url = httpx.URL(url)
        assert c.get("/v1/models").json()["data"][0]["id"] == "file-model"
        first = c.post("/v1/messages", json={"model": "m"}).json()
        assert first["content"] == [{"type": "text", "text": "from file"}]
        added = c.post("/_script", json=[{"text": "added"}])
        assert added.status_code == 200 and added.json()["queued"] == 1
        assert c.post("/_script", json=[{"bogus": 1}]).status_code == 400
        events = stream_events(c, "/v1/chat/completions", {"model": "m", "stream": True})
        assert events[1].json()["choices"][0]["delta"]["content"] == "added"
        recorded = c.get("/_requests").json()
        assert [r["path"] for r in recorded] == [
            "/v1/models",
            "/v1/messages",
            "/v1/chat/completions",
        ]
        assert recorded[2]["json"]["stream"] is True
        proc.terminate()
        _, err = proc.communicate(timeout=5)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
