"""Tool calls written as text, for models without native tool calling."""

from __future__ import annotations

from pathlib import Path

import pytest

from codive_cli.agent.loop import Agent
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy
from codive_cli.provider import ProviderConfig
from codive_cli.providers import text_tools
from codive_cli.providers.scripted import Reply, ScriptedProvider
from codive_cli.tools.base import ToolContext
from codive_cli.tools.files import ReadFileTool


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
    call = '<tool_call>{"name": "read_file", "arguments": {"path": "notes.txt"}}</tool_call>'
    provider.enqueue(Reply("Reading.\n" + call), "The code word is swordfish.")
    agent = Agent(
        provider,
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
