"""The Chat Completions wire format (openai and local_llm) against recorded transcripts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from codive_cli.errors import (
    ApiError,
    AuthError,
    ContextTooLong,
    ModelNotFound,
    Overloaded,
    QuotaExceeded,
    RateLimited,
    StreamCutOff,
)
from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    CompletionResponse,
    Done,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolDefinition,
    collect,
)
from tests.helpers import Recorder, fixture_bytes, make_provider, sse_response

TOOL = ToolDefinition("grep", "Search.", {"type": "object", "properties": {}})


def request(*messages: ChatMessage, **kwargs: Any) -> CompletionRequest:
    return CompletionRequest(list(messages) or [ChatMessage("user", "hi")], **kwargs)


async def stream_fixture(name: str, provider: str = "openai", size: int = 64) -> list[Any]:
    recorder = Recorder(sse_response(fixture_bytes(name), chunk_size=size))
    p = make_provider(provider, recorder, model="m")
    return [e async for e in p.stream(request())]


async def folded(name: str, provider: str = "openai", size: int = 64) -> CompletionResponse:
    events = await stream_fixture(name, provider, size)

    async def replay() -> AsyncIterator[Any]:
        for event in events:
            yield event

    return await collect(replay())


async def test_text_stream_request_shape_and_usage() -> None:
    recorder = Recorder(sse_response(fixture_bytes("openai/text.sse")))
    provider = make_provider("openai", recorder, model="gpt-4o", temperature=0.2, max_tokens=99)
    response = await collect(
        provider.stream(
            request(ChatMessage("system", "s"), ChatMessage("user", "hi"), tools=[TOOL])
        )
    )
    sent = recorder.requests[0]
    assert sent.url == "https://api.openai.com/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer test-key"
    body = json.loads(sent.content)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 99 and "max_tokens" not in body
    assert body["temperature"] == 0.2
    assert body["messages"] == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "hi"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "grep", "description": "Search.", "parameters": TOOL.parameters},
        }
    ]
    assert response.stop_reason == "end_turn"
    assert response.content
    usage = next(
        json.loads(line[6:])
        for line in fixture_bytes("openai/text.sse").decode().split("\n\n")
        if line.startswith("data: {") and '"choices":[]' in line
    )["usage"]
    assert response.usage.input_tokens == usage["prompt_tokens"]
    assert response.usage.output_tokens == usage["completion_tokens"]


@pytest.mark.parametrize("size", [3, 64, 4096])
async def test_tool_call_fragments_keyed_by_index(size: int) -> None:
    response = await folded("openai/tool_calls.sse", size=size)
    assert response.stop_reason == "tool_use"
    assert response.tool_calls == [
        ToolCall("call_8T5rvmIrU8oTTWeKPvT4a4BN", "read_file", {"path": "src/main.py", "limit": 50})
    ]


async def test_parallel_interleaved_calls() -> None:
    response = await folded("openai/parallel_tools.sse")
    assert [c.name for c in response.tool_calls] == ["read_file", "grep"]
    assert all(c.arguments and not c.arguments_error for c in response.tool_calls)


async def test_whole_call_in_one_chunk() -> None:
    response = await folded("openai/whole_call.sse", provider="local_llm")
    assert len(response.tool_calls) == 1
    call = response.tool_calls[0]
    assert call.id and call.name and call.arguments and not call.arguments_error
    assert response.stop_reason == "tool_use"


async def test_calls_without_ids_get_distinct_ids() -> None:
    response = await folded("openai/no_ids.sse", provider="local_llm")
    assert len(response.tool_calls) == 2
    assert len({c.id for c in response.tool_calls}) == 2
    assert all(c.id for c in response.tool_calls)
    assert all(not c.arguments_error for c in response.tool_calls)


async def test_llama_server_tool_call_stream() -> None:
    response = await folded("llamacpp/tool_calls.sse", provider="local_llm")
    assert response.tool_calls and response.stop_reason == "tool_use"
    assert all(not c.arguments_error for c in response.tool_calls)


async def test_finish_reason_length_is_truncation() -> None:
    assert (await folded("openai/length.sse")).stop_reason == "max_tokens"
    response = await folded("openai/length_tool.sse")
    assert response.stop_reason == "max_tokens"
    assert response.tool_calls == [] and len(response.truncated_tool_calls) == 1


async def test_error_mid_stream() -> None:
    events = await stream_fixture("openai/error_midstream.sse")
    assert any(isinstance(e, TextDelta) for e in events)
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, ApiError)


async def test_truncated_stream_is_an_error() -> None:
    events = await stream_fixture("openai/truncated.sse")
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, StreamCutOff)
    assert not any(isinstance(e, Done) for e in events)


@pytest.mark.parametrize("size", [1, 2, 5])
async def test_multibyte_split(size: int) -> None:
    whole = (await folded("openai/multibyte.sse")).content
    assert (await folded("openai/multibyte.sse", size=size)).content == whole
    assert "🎉" in whole


async def test_reasoning_content_is_thinking() -> None:
    events = await stream_fixture("openai/reasoning.sse", provider="local_llm")
    thinking = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert thinking
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    first_thought = next(i for i, e in enumerate(events) if isinstance(e, ThinkingDelta))
    assert first_thought < first_text


async def test_non_streaming_completion_with_tool_call() -> None:
    body = json.loads(fixture_bytes("openai/completion.json"))
    recorder = Recorder(httpx.Response(200, json=body))
    provider = make_provider("openai", recorder)
    response = await provider.complete(request())
    sent = recorder.body()
    assert "stream" not in sent and "stream_options" not in sent
    wire = body["choices"][0]["message"]["tool_calls"][0]
    assert response.tool_calls[0].id == wire["id"]
    assert response.tool_calls[0].arguments == json.loads(wire["function"]["arguments"])
    assert response.stop_reason == "tool_use"


async def test_tool_round_trip_is_valid_chat_completions() -> None:
    recorder = Recorder(sse_response(fixture_bytes("openai/text.sse")))
    provider = make_provider("openai", recorder)
    calls = (ToolCall("call_1", "read_file", {"path": "a"}), ToolCall("call_2", "grep", {"q": 1}))
    await collect(
        provider.stream(
            request(
                ChatMessage("user", "go"),
                ChatMessage("assistant", "", tool_calls=calls),
                ChatMessage("tool", "text of a", tool_call_id="call_1"),
                ChatMessage("tool", "bad pattern", tool_call_id="call_2", is_error=True),
            )
        )
    )
    messages = recorder.body()["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "a"}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "grep", "arguments": '{"q": 1}'},
            },
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "text of a"}
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": "call_2",
        "content": "Error: bad pattern",
    }


@pytest.mark.parametrize(
    ("fixture", "status", "kind", "attempts"),
    [
        ("openai/errors/400.json", 400, ApiError, 1),
        ("openai/errors/401.json", 401, AuthError, 1),
        ("openai/errors/403.json", 403, AuthError, 1),
        ("openai/errors/404.json", 404, ModelNotFound, 1),
        ("openai/errors/429.json", 429, RateLimited, 3),
        ("openai/errors/429_quota.json", 429, QuotaExceeded, 1),
        ("openai/errors/500.json", 500, ApiError, 3),
        ("openai/errors/503.json", 503, Overloaded, 3),
        ("llamacpp/503_loading.json", 503, Overloaded, 3),
        ("llamacpp/500.json", 500, ApiError, 3),
        ("ollama/404_model.json", 404, ModelNotFound, 1),
        ("ollama/openai_404_model.json", 404, ModelNotFound, 1),
        ("ollama/400.json", 400, ApiError, 1),
    ],
)
async def test_error_bodies(fixture: str, status: int, kind: type, attempts: int) -> None:
    recorder = Recorder(*[httpx.Response(status, content=fixture_bytes(fixture))] * 3)
    provider = make_provider(
        "openai" if fixture.startswith("openai") else "local_llm", recorder, model="m"
    )
    with pytest.raises(kind) as caught:
        await provider.complete(request())
    assert type(caught.value) is kind
    assert len(recorder.requests) == attempts
    assert str(status) in str(caught.value)


@pytest.mark.parametrize(
    ("fixture", "maximum", "actual"),
    [
        ("openai/errors/400_context.json", 128000, 130000),
        ("llamacpp/400_context.json", 32768, 33210),
    ],
)
async def test_context_errors_carry_numbers(fixture: str, maximum: int, actual: int) -> None:
    recorder = Recorder(httpx.Response(400, content=fixture_bytes(fixture)))
    provider = make_provider("local_llm", recorder, model="m")
    with pytest.raises(ContextTooLong) as caught:
        await provider.complete(request())
    assert (caught.value.max, caught.value.actual) == (maximum, actual)


async def test_quota_message_says_what_to_do() -> None:
    recorder = Recorder(
        httpx.Response(
            429,
            content=fixture_bytes("openai/errors/429_quota.json"),
            headers={"x-should-retry": "true"},
        )
    )
    provider = make_provider("openai", recorder)
    with pytest.raises(QuotaExceeded) as caught:
        await provider.complete(request())
    assert "billing" in caught.value.hint
    assert len(recorder.requests) == 1


async def test_local_llm_base_url_model_discovery_and_no_key() -> None:
    recorder = Recorder(
        httpx.Response(200, content=fixture_bytes("llamacpp/models.json")),
        sse_response(fixture_bytes("openai/text.sse")),
    )
    provider = make_provider("local_llm", recorder, api_key=None, base_url="http://127.0.0.1:8080")
    await collect(provider.stream(request(max_tokens=7)))
    assert str(recorder.requests[0].url) == "http://127.0.0.1:8080/v1/models"
    assert str(recorder.requests[1].url) == "http://127.0.0.1:8080/v1/chat/completions"
    assert "authorization" not in recorder.requests[1].headers
    body = recorder.body()
    assert body["model"] == "qwen2.5-coder-7b-instruct"
    assert body["max_tokens"] == 7


async def test_local_llm_lists_models_with_context_sizes() -> None:
    recorder = Recorder(
        httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"id": "Qwen/Qwen2.5-7B", "object": "model", "max_model_len": 32768}],
            },
        )
    )
    provider = make_provider("local_llm", recorder, base_url="http://h:8000/v1", label="vllm")
    [model] = await provider.list_models()
    assert str(recorder.requests[0].url) == "http://h:8000/v1/models"
    assert (model.id, model.context_window, model.provider) == ("Qwen/Qwen2.5-7B", 32768, "vllm")


async def test_local_server_context_sizes_and_small_context_warning() -> None:
    models = {"object": "list", "data": [{"id": "qwen", "object": "model", "max_model_len": 8192}]}
    recorder = Recorder(httpx.Response(200, json=models))
    provider = make_provider("local_llm", recorder, api_key=None, model="qwen")
    notices: list[str] = []
    provider.on_notice = notices.append
    await provider.start()
    assert provider.model_info().context_window == 8192
    assert len(notices) == 1 and "8,192-token context" in notices[0]


async def test_ollama_context_comes_from_api_show() -> None:
    models = {"object": "list", "data": [{"id": "qwen2.5-coder", "object": "model"}]}
    show = json.loads(fixture_bytes("ollama/show.json"))
    recorder = Recorder(httpx.Response(200, json=models), httpx.Response(200, json=show))
    provider = make_provider(
        "local_llm",
        recorder,
        api_key=None,
        model="qwen2.5-coder",
        base_url="http://127.0.0.1:11434",
    )
    await provider.start()
    assert str(recorder.requests[1].url) == "http://127.0.0.1:11434/api/show"
    assert provider.model_info().context_window == 32768  # the model's num_ctx


async def test_ollama_without_num_ctx_gets_its_small_default_and_a_warning() -> None:
    models = {"object": "list", "data": [{"id": "llama3", "object": "model"}]}
    recorder = Recorder(httpx.Response(200, json=models), httpx.Response(200, json={}))
    provider = make_provider(
        "local_llm",
        recorder,
        api_key=None,
        model="llama3",
        label="ollama",
        base_url="http://gpu-box:11434",
    )
    notices: list[str] = []
    provider.on_notice = notices.append
    await provider.start()
    assert provider.model_info().context_window == 4096
    assert "num_ctx" in notices[0]


async def test_start_probes_a_local_server_once_without_retrying() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    recorder = Recorder(refuse)
    provider = make_provider("local_llm", recorder, api_key=None, model="m")
    await provider.start()  # quiet: the real request that follows reports the problem
    assert len(recorder.requests) == 1 and provider.sleeps == []
