"""Tool calls written as text, for models without native tool calling."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codive_cli.agent.loop import Agent
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy
from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    CompletionResponse,
    Done,
    ModelInfo,
    Provider,
    ProviderConfig,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolDefinition,
    Usage,
    collect,
    fold,
)
from codive_cli.providers import create_provider, text_tools
from codive_cli.providers.scripted import Reply, ScriptedProvider
from codive_cli.providers.text_tools import TextToolsProvider
from codive_cli.tools.base import ToolContext
from codive_cli.tools.files import ReadFileTool
from tests.scripted_server import ScriptedServer

PLUGIN = Path(__file__).parent.parent / "examples/local_llm_plugin/codive_local_llm/__init__.py"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>',
            [("read_file", {"path": "a"}, None)],
        ),
        (
            "Let me look.\n<tool_call>\n```json\n"
            '{"name": "grep", "parameters": {"pattern": "x"},}\n```\n</tool_call>',
            [("grep", {"pattern": "x"}, None)],
        ),
        (
            '<tool_call>{"tool": "bash", "arguments": "{\\"command\\": \\"ls\\"}"}',  # unclosed
            [("bash", {"command": "ls"}, None)],
        ),
        (
            '<tool_call>{"name": "a", "args": {}}</tool_call> and '
            '<tool_call>{"name": "b"}</tool_call>',
            [("a", {}, None), ("b", {}, None)],
        ),
        ("no calls here", []),
    ],
)
def test_parser_is_tolerant(text: str, expected: list[tuple[str, dict[str, str], None]]) -> None:
    calls = text_tools.parse(text)
    assert [(c.name, c.arguments, c.arguments_error) for c in calls] == expected
    assert len({c.id for c in calls}) == len(calls)


def test_malformed_calls_keep_an_error_for_the_model() -> None:
    [call] = text_tools.parse("<tool_call>{name: read_file}</tool_call>")
    assert call.arguments_error and "not a JSON object" in call.arguments_error
    [call] = text_tools.parse('<tool_call>{"name": "x", "arguments": [1]}</tool_call>')
    assert call.arguments_error and "must be a JSON object" in call.arguments_error


async def test_the_loop_runs_text_tool_calls(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("the code word is swordfish\n")
    provider = ScriptedProvider(
        ProviderConfig("scripted", model="m", options={"tool_format": "text"})
    )
    wrapped = TextToolsProvider(provider)
    call = '<tool_call>{"name": "read_file", "arguments": {"path": "notes.txt"}}</tool_call>'
    provider.enqueue(Reply("Reading.\n" + call), "The code word is swordfish.")
    agent = Agent(
        wrapped,
        [ReadFileTool()],
        ToolContext(tmp_path, WorkspaceGuard(tmp_path)),
        policy=Policy("ask"),
        system="sys",
    )
    result = await agent.run("what is the code word?")
    assert result.content == "The code word is swordfish."
    first, second = provider.requests
    assert first.tools == [] and second.tools == []
    assert first.messages[1].role == "system" and "<tool_call>" in first.messages[1].content
    assert "read_file" in first.messages[1].content
    roles = [m.role for m in second.messages]
    assert roles == ["system", "system", "user", "assistant", "user"]
    assert second.messages[3].tool_calls == ()  # no native calls in the wire messages
    assert second.messages[4].content.startswith('<tool_result name="read_file">')
    assert "swordfish" in second.messages[4].content
    assert [r.call.name for r in result.tool_calls] == ["read_file"]
    # the conversation itself stays native: a call, then a `tool` result
    assistant, tool = agent.messages[2], agent.messages[3]
    assert assistant.content == "Reading.\n"
    assert [c.name for c in assistant.tool_calls] == ["read_file"]
    assert tool.role == "tool" and tool.tool_call_id == assistant.tool_calls[0].id


# --- the wrapper at the wire ----------------------------------------------------------------

SYSTEM = ChatMessage("system", "sys")
READ = ToolDefinition("read_file", "Read a file.", {"type": "object"})
TEXT_CALL = '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>'


def text_endpoint(server: ScriptedServer) -> Provider:
    config = ProviderConfig(
        "local_llm", model="m", base_url=server.base_url, options={"tool_format": "text"}
    )
    return create_provider(config)


def native_history() -> list[ChatMessage]:
    call = ToolCall("toolu_1", "read_file", {"path": "a.py"})
    return [
        SYSTEM,
        ChatMessage("user", "what is in a.py?"),
        ChatMessage("assistant", "Looking.", tool_calls=(call,)),
        ChatMessage("tool", "print('hi')", tool_call_id="toolu_1"),
        ChatMessage("user", "and b.py?"),
    ]


async def drain(provider: Provider, request: CompletionRequest) -> list[StreamEvent]:
    return [event async for event in provider.stream(request)]


async def test_native_calls_go_out_as_text_and_calls_come_back_native() -> None:
    reply = {"text": "Let me look.\n" + TEXT_CALL, "chunks": 23}  # tags split across deltas
    with ScriptedServer([reply]) as server:
        async with text_endpoint(server) as provider:
            assert isinstance(provider, TextToolsProvider) and provider.supports_tools
            events = await drain(provider, CompletionRequest(native_history(), [READ]))
        [sent] = server.model_requests
    body = sent["json"]
    assert "tools" not in body
    assert [m["role"] for m in body["messages"]] == [
        "system",
        "system",
        "user",
        "assistant",
        "user",
        "user",
    ]
    assert "read_file" in body["messages"][1]["content"]
    assistant = body["messages"][3]
    assert "tool_calls" not in assistant
    assert assistant["content"].startswith("Looking.\n<tool_call>\n")
    [rendered] = text_tools.parse(assistant["content"])
    assert (rendered.name, rendered.arguments) == ("read_file", {"path": "a.py"})
    assert body["messages"][4]["content"] == (
        "<tool_result name=\"read_file\">\nprint('hi')\n</tool_result>"
    )
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown == "Let me look.\n"  # the call text is never shown as answer text
    response = fold(events)
    assert response.stop_reason == "tool_use"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("read_file", {"path": "a.py"})]
    assert response.content == "Let me look.\n"


async def test_a_text_turn_continues_on_a_native_endpoint() -> None:
    """/model from a text-format endpoint to a native one: the stored turn is native."""
    with ScriptedServer([{"text": TEXT_CALL}, {"text": "It prints hi."}]) as server:
        history = native_history()[:2]
        async with text_endpoint(server) as text_provider:
            first = await collect(text_provider.stream(CompletionRequest(history, [READ])))
        [call] = first.tool_calls
        history += [first.to_message(), ChatMessage("tool", "print('hi')", tool_call_id=call.id)]
        native = ProviderConfig("local_llm", model="m", base_url=server.base_url)
        async with create_provider(native) as provider:
            assert not isinstance(provider, TextToolsProvider)
            second = await collect(provider.stream(CompletionRequest(history, [READ])))
        body = server.model_requests[1]["json"]
    assert second.content == "It prints hi."
    assert body["tools"][0]["function"]["name"] == "read_file"
    assistant, result = body["messages"][2:]
    assert assistant["content"] is None
    assert assistant["tool_calls"][0]["id"] == call.id
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"path": "a.py"}
    assert result == {"role": "tool", "tool_call_id": call.id, "content": "print('hi')"}


async def test_non_streamed_replies_are_translated_too() -> None:
    with ScriptedServer([{"text": "Sure. " + TEXT_CALL}]) as server:
        async with text_endpoint(server) as provider:
            response = await provider.complete(CompletionRequest(native_history(), [READ]))
    assert response.content == "Sure. "
    assert response.stop_reason == "tool_use"
    assert [c.name for c in response.tool_calls] == ["read_file"]


class Deltas(Provider):
    """Plays back fixed text deltas: to split the tag at every place."""

    name = "deltas"

    def __init__(self, deltas: list[str]) -> None:
        super().__init__(ProviderConfig("deltas", model="d"))
        self.deltas = deltas

    def available_models(self) -> list[ModelInfo]:
        return [ModelInfo("d", "D", 1000)]

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        return await collect(self.stream(request))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        for delta in self.deltas:
            yield TextDelta(delta)
        yield Done("end_turn", Usage(1, 1))


@pytest.mark.parametrize("cut", range(1, 40))
async def test_a_tag_split_anywhere_is_held_back(cut: int) -> None:
    text = "Ok <b> <tool_call>" + TEXT_CALL.removeprefix("<tool_call>")
    provider = TextToolsProvider(Deltas([text[:cut], text[cut:]]))
    events = await drain(provider, CompletionRequest([ChatMessage("user", "hi")], [READ]))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Ok <b> "
    assert [c.name for c in fold(events).tool_calls] == ["read_file"]


@pytest.mark.parametrize("text", ["a <tool_ca", "x <tool_call", "<", "plain"])
async def test_text_that_only_looks_like_a_tag_is_shown_in_the_end(text: str) -> None:
    provider = TextToolsProvider(Deltas(list(text)))
    events = await drain(provider, CompletionRequest([ChatMessage("user", "hi")], [READ]))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == text
    assert fold(events).stop_reason == "end_turn"


async def test_without_tools_the_reply_is_left_alone() -> None:
    provider = TextToolsProvider(Deltas(["see ", TEXT_CALL]))
    events = await drain(provider, CompletionRequest(native_history()))
    response = fold(events)
    assert response.content == "see " + TEXT_CALL and response.tool_calls == []


async def test_an_unreadable_call_goes_back_to_the_model_as_an_error() -> None:
    provider = TextToolsProvider(Deltas(["<tool_call>{name: read_file}</tool_call>"]))
    events = await drain(provider, CompletionRequest([ChatMessage("user", "hi")], [READ]))
    [call] = fold(events).tool_calls
    assert call.arguments_error and "not a JSON object with a name" in call.arguments_error


async def test_call_ids_never_repeat_in_the_conversation() -> None:
    """Not even after compaction shortened it (a native endpoint refuses repeated ids)."""
    earlier = ToolCall("text_call_7", "read_file", {"path": "a.py"})
    history = [
        ChatMessage("user", "summary of earlier turns"),
        ChatMessage("assistant", tool_calls=(earlier,)),
        ChatMessage("tool", "x", tool_call_id="text_call_7"),
    ]
    provider = TextToolsProvider(Deltas([TEXT_CALL, TEXT_CALL]))
    response = fold(await drain(provider, CompletionRequest(history, [READ])))
    assert [c.id for c in response.tool_calls] == ["text_call_8", "text_call_9"]


async def test_the_wrapper_is_the_inner_provider_otherwise() -> None:
    inner = Deltas(["hi"])
    provider = TextToolsProvider(inner)
    notes: list[str] = []
    provider.on_notice = notes.append
    inner.notice("from inside")
    assert notes == ["from inside"]
    assert provider.config is inner.config and provider.name == "deltas"
    assert provider.model_info() == inner.model_info()
    assert await provider.list_models() == inner.available_models()
    assert provider.supports_tools is True


async def test_a_plugin_provider_can_be_wrapped() -> None:
    spec = importlib.util.spec_from_file_location("plugin_under_test", PLUGIN)
    assert spec is not None and spec.loader is not None
    plugin = importlib.util.module_from_spec(spec)  # not registered in sys.modules
    spec.loader.exec_module(plugin)
    with ScriptedServer([{"text": TEXT_CALL}]) as server:
        config = ProviderConfig("my_local_llm", model="local-7b", base_url=server.base_url)
        async with TextToolsProvider(plugin.LocalLlmProvider(config)) as provider:
            response = await provider.complete(CompletionRequest(native_history(), [READ]))
        [sent] = server.model_requests
    assert [c.name for c in response.tool_calls] == ["read_file"]
    assert "<tool_result" in sent["json"]["messages"][-2]["content"]
