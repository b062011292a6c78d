"""The Anthropic provider against recorded Messages API transcripts."""

from __future__ import annotations

import json

import httpx
import pytest

from codive_cli.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ContextTooLong,
    ModelNotFound,
    Overloaded,
    RateLimited,
    StreamCutOff,
)
from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    Done,
    Retrying,
    StreamError,
    TextDelta,
    Thinking,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolDefinition,
    collect,
)
from tests.helpers import Recorder, fixture_bytes, make_provider, sse_response

READ_FILE = ToolDefinition(
    "read_file", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}
)


def request(*messages: ChatMessage, **kwargs: object) -> CompletionRequest:
    return CompletionRequest(list(messages) or [ChatMessage("user", "hi")], **kwargs)  # type: ignore[arg-type]


async def events_of(fixture: str, chunk_size: int = 64) -> list[object]:
    recorder = Recorder(sse_response(fixture_bytes(f"anthropic/{fixture}"), chunk_size=chunk_size))
    provider = make_provider("anthropic", recorder)
    return [event async for event in provider.stream(request())]


async def test_text_stream_events_and_request_shape() -> None:
    recorder = Recorder(sse_response(fixture_bytes("anthropic/text.sse")))
    provider = make_provider("anthropic", recorder, model="claude-sonnet-4-5")
    req = request(ChatMessage("system", "be brief"), ChatMessage("user", "hi"), tools=[READ_FILE])
    events = [event async for event in provider.stream(req)]
    sent = recorder.requests[0]
    assert sent.url == "https://api.anthropic.com/v1/messages"
    assert sent.headers["x-api-key"] == "test-key"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    body = json.loads(sent.content)
    assert body["model"] == "claude-sonnet-4-5"
    assert body["system"] == "be brief"
    assert body["stream"] is True
    assert body["max_tokens"] == 16384  # always sent, capped by the model's limit
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert body["tools"] == [
        {"name": "read_file", "description": "Read a file.", "input_schema": READ_FILE.parameters}
    ]
    assert "temperature" not in body
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) == 4
    assert isinstance(events[-1], Done)
    assert events[-1].stop_reason == "end_turn"
    assert events[-1].usage.output_tokens > 0


async def test_tool_use_arguments_split_across_fragments() -> None:
    events = await events_of("tool_use.sse", chunk_size=7)
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [s.name for s in starts] == ["read_file"]
    assert all(e.arguments for e in events if isinstance(e, ToolCallDelta))  # "" dropped
    response = await collect(_aiter(events))
    assert response.stop_reason == "tool_use"
    assert response.content == "I'll read the file."
    assert response.tool_calls == [
        ToolCall(starts[0].id, "read_file", {"path": "src/main.py", "limit": 50})
    ]


async def test_parallel_tool_calls_keep_their_order() -> None:
    response = await collect(_aiter(await events_of("parallel_tools.sse")))
    assert [c.name for c in response.tool_calls] == ["read_file", "grep"]
    assert all(c.arguments and c.arguments_error is None for c in response.tool_calls)
    assert len({c.id for c in response.tool_calls}) == 2


async def test_thinking_keeps_signature_and_goes_back_next_turn() -> None:
    response = await collect(_aiter(await events_of("thinking.sse", chunk_size=13)))
    signed, redacted = response.thinking
    assert signed.text and signed.signature and len(signed.signature) > 40
    assert redacted.redacted_data
    assert response.content

    recorder = Recorder(sse_response(fixture_bytes("anthropic/text.sse")))
    provider = make_provider("anthropic", recorder)
    follow_up = request(
        ChatMessage("user", "q"), response.to_message(), ChatMessage("user", "more")
    )
    [_ async for _ in provider.stream(follow_up)]
    assistant = recorder.body()["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": signed.text,
        "signature": signed.signature,
    }
    assert assistant["content"][1] == {"type": "redacted_thinking", "data": redacted.redacted_data}


async def test_max_tokens_is_truncation_and_cut_tool_call_is_dropped() -> None:
    response = await collect(_aiter(await events_of("max_tokens.sse")))
    assert response.stop_reason == "max_tokens"
    response = await collect(_aiter(await events_of("max_tokens_tool.sse")))
    assert response.stop_reason == "max_tokens"
    assert response.tool_calls == []
    assert response.truncated_tool_calls == ["write_file"]


async def test_error_event_after_output_is_not_retried() -> None:
    events = await events_of("error_midstream.sse")
    assert any(isinstance(e, TextDelta) for e in events)
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, Overloaded)


async def test_overloaded_before_output_is_retried() -> None:
    recorder = Recorder(
        sse_response(fixture_bytes("anthropic/error_before_output.sse")),
        sse_response(fixture_bytes("anthropic/text.sse")),
    )
    provider = make_provider("anthropic", recorder)
    response = await collect(provider.stream(request()))
    assert len(recorder.requests) == 2
    assert response.stop_reason == "end_turn" and response.content
    assert len(provider.sleeps) == 1


async def test_truncated_stream_is_an_error_not_a_success() -> None:
    events = await events_of("truncated.sse")
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, StreamCutOff)
    with pytest.raises(StreamCutOff):
        await collect(_aiter(events))


async def test_connection_dropped_mid_stream_after_output() -> None:
    data = fixture_bytes("anthropic/text.sse")
    cut = data[: data.index(b"content_block_stop")]
    recorder = Recorder(sse_response(cut, fail=httpx.RemoteProtocolError("peer closed")))
    provider = make_provider("anthropic", recorder)
    events = [e async for e in provider.stream(request())]
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, StreamCutOff)
    assert len(recorder.requests) == 1  # text was shown: no silent retry


@pytest.mark.parametrize("size", [1, 2, 3, 5])
async def test_multibyte_characters_split_across_chunks(size: int) -> None:
    whole = "".join(e.text for e in await events_of("multibyte.sse") if isinstance(e, TextDelta))
    split = await events_of("multibyte.sse", chunk_size=size)
    assert "".join(e.text for e in split if isinstance(e, TextDelta)) == whole
    assert "中文" in whole and "🎉" in whole


async def test_usage_counts_are_totals_not_added_twice() -> None:
    response = await collect(_aiter(await events_of("usage.sse")))
    start = json.loads(fixture_bytes("anthropic/usage.sse").split(b"data: ")[1].split(b"\n")[0])
    usage = start["message"]["usage"]
    assert response.usage.input_tokens == usage["input_tokens"]
    assert response.usage.cache_read_tokens == usage["cache_read_input_tokens"]
    assert response.usage.cache_write_tokens == usage["cache_creation_input_tokens"]
    assert response.usage.output_tokens > 1


async def test_complete_non_streaming_message() -> None:
    body = json.loads(fixture_bytes("anthropic/message.json"))
    recorder = Recorder(httpx.Response(200, json=body))
    provider = make_provider("anthropic", recorder)
    response = await provider.complete(request(tools=[READ_FILE]))
    assert "stream" not in recorder.body()
    tool_blocks = [b for b in body["content"] if b["type"] == "tool_use"]
    assert [c.arguments for c in response.tool_calls] == [b["input"] for b in tool_blocks]
    assert response.stop_reason == "tool_use"
    assert response.usage.input_tokens == body["usage"]["input_tokens"]


async def test_tool_round_trip_is_valid_messages_api() -> None:
    recorder = Recorder(sse_response(fixture_bytes("anthropic/text.sse")))
    provider = make_provider("anthropic", recorder)
    calls = (ToolCall("toolu_1", "read_file", {"path": "a"}), ToolCall("toolu_2", "grep", {}))
    convo = request(
        ChatMessage("user", "look"),
        ChatMessage("assistant", "Reading.", tool_calls=calls, thinking=(Thinking("t", None),)),
        ChatMessage("tool", "contents", tool_call_id="toolu_1"),
        ChatMessage("tool", "no such pattern", tool_call_id="toolu_2", is_error=True),
    )
    [_ async for _ in provider.stream(convo)]
    messages = recorder.body()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [  # unsigned thinking is not sent back
        {"type": "text", "text": "Reading."},
        {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
        {"type": "tool_use", "id": "toolu_2", "name": "grep", "input": {}},
    ]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "contents"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": "no such pattern",
            "is_error": True,
        },
    ]


@pytest.mark.parametrize(
    ("status", "kind", "retried"),
    [
        (400, ApiError, False),
        (401, AuthError, False),
        (403, AuthError, False),
        (404, ModelNotFound, False),
        (429, RateLimited, True),
        (500, ApiError, True),
        (529, Overloaded, True),
    ],
)
async def test_error_statuses_map_to_kinds(status: int, kind: type, retried: bool) -> None:
    body = fixture_bytes(f"anthropic/errors/{status}.json")
    responses = [httpx.Response(status, content=body) for _ in range(3)]
    recorder = Recorder(*responses)
    provider = make_provider("anthropic", recorder)
    events = [e async for e in provider.stream(request())]
    retries = [e for e in events if isinstance(e, Retrying)]
    events = [e for e in events if not isinstance(e, Retrying)]
    assert len(events) == 1 and isinstance(events[0], StreamError)
    assert type(events[0].error) is kind
    assert len(recorder.requests) == (3 if retried else 1)
    assert [(r.attempt, r.attempts) for r in retries] == ([(1, 2), (2, 2)] if retried else [])
    if status == 401:
        assert "ANTHROPIC_API_KEY" in events[0].error.hint
    if status == 404:
        assert "claude-sonnet-5-5" in events[0].error.hint


async def test_prompt_too_long_is_context_too_long_with_numbers() -> None:
    recorder = Recorder(
        httpx.Response(400, content=fixture_bytes("anthropic/errors/400_context.json"))
    )
    provider = make_provider("anthropic", recorder)
    with pytest.raises(ContextTooLong) as caught:
        await provider.complete(request())
    assert (caught.value.max, caught.value.actual) == (200000, 208310)


async def test_missing_key_is_a_configuration_error() -> None:
    provider = make_provider("anthropic", Recorder(), api_key=None)
    with pytest.raises(ConfigError, match="no API key") as caught:
        await provider.complete(request())
    assert "ANTHROPIC_API_KEY" in caught.value.hint


async def _aiter(events: list[object]):  # type: ignore[no-untyped-def]
    for event in events:
        yield event


def test_thinking_delta_type_tag() -> None:
    assert ThinkingDelta("x").type == "thinking"
