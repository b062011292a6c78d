"""The agent loop with a scripted provider and small fake tools."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import pytest

from codive_cli.agent.compaction import (
    REQUEST_MARK,
    SUMMARY_INSTRUCTIONS,
    SUMMARY_PREFIX,
    split_steps,
)
from codive_cli.agent.events import AgentEvent, Compacted, ToolFinished, ToolStarted
from codive_cli.agent.loop import Agent
from codive_cli.errors import Overloaded
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import (
    Approval,
    ApprovalRequest,
    Approver,
    Policy,
    deny_without_terminal,
)
from codive_cli.provider import ChatMessage, ToolCall, Usage
from codive_cli.providers import anthropic, openai
from codive_cli.providers.scripted import Reply, ScriptedProvider
from codive_cli.tools.base import Tool, ToolContext, ToolError, ToolResult
from codive_cli.tools.bash import BashTool

SECRET = "sk-ant-api03-very-secret-value"


class Echo(Tool):
    name: ClassVar[str] = "echo"
    description: ClassVar[str] = "Echo text back."
    kind = "read"
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
        "additionalProperties": False,
    }

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        if arguments["text"] == "fail":
            raise ToolError("echo failed on purpose")
        return ToolResult(f"echo: {arguments['text']}")


class Touch(Tool):
    name: ClassVar[str] = "touch"
    description: ClassVar[str] = "Create a file."
    kind = "edit"
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
    }

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        (context.root / arguments["path"]).write_text("")
        return ToolResult(f"created {arguments['path']}")


class Recorder(list[object]):
    """A driver that keeps every event and answers approvals with `approver`."""

    def __init__(self, approver: Approver = deny_without_terminal) -> None:
        super().__init__()
        self.approver = approver

    def emit(self, event: AgentEvent) -> None:
        self.append(event)

    async def approve(self, request: ApprovalRequest) -> Approval:
        return await self.approver(request)


def make_agent(
    tmp_path: Path,
    *replies: Reply | str,
    tools: list[Tool] | None = None,
    approver: Approver = deny_without_terminal,
    **kwargs: Any,
) -> tuple[Agent, ScriptedProvider, Recorder]:
    provider = ScriptedProvider()
    provider.enqueue(*replies)
    context = ToolContext(tmp_path, guard=WorkspaceGuard(tmp_path), secrets=(SECRET,))
    kwargs.setdefault("policy", Policy("full"))
    agent = Agent(
        provider,
        tools if tools is not None else [Echo(), Touch()],
        context,
        system="sys",
        **kwargs,
    )
    return agent, provider, Recorder(approver)


def assert_valid_for_both_wire_formats(messages: list[ChatMessage]) -> None:
    """Every tool call is answered by a tool result, in both APIs' shapes."""
    _, wire = anthropic.convert_messages(messages)
    for i, message in enumerate(wire):
        uses = [b["id"] for b in message["content"] if b.get("type") == "tool_use"]
        if uses:
            answers = [
                b["tool_use_id"] for b in wire[i + 1]["content"] if b.get("type") == "tool_result"
            ]
            assert answers == uses
    chat = openai.convert_messages(messages)
    for i, message in enumerate(chat):
        for n, call in enumerate(message.get("tool_calls") or []):
            assert chat[i + 1 + n] == {**chat[i + 1 + n], "role": "tool"}
            assert chat[i + 1 + n]["tool_call_id"] == call["id"]


async def test_tool_call_then_final_answer(tmp_path: Path) -> None:
    agent, provider, events = make_agent(
        tmp_path, Reply("Let me check.", [("echo", {"text": "hi"})]), "It said hi."
    )
    result = await agent.run("say hi", events)
    assert result.content == "It said hi."
    assert result.stop_reason == "end_turn" and result.steps == 2
    assert [r.result.content for r in result.tool_calls] == ["echo: hi"]
    second = provider.requests[1].messages
    assert [m.role for m in second] == ["system", "user", "assistant", "tool"]
    assert second[2].tool_calls[0].name == "echo"
    assert second[3].tool_call_id == second[2].tool_calls[0].id
    assert [t.name for t in provider.requests[0].tools] == ["echo", "touch"]
    kinds = [type(e).__name__ for e in events if isinstance(e, ToolStarted | ToolFinished)]
    assert kinds == ["ToolStarted", "ToolFinished"]
    assert result.usage.input_tokens == 20
    assert_valid_for_both_wire_formats(agent.messages)


async def test_parallel_reads_run_concurrently_and_answer_in_order(tmp_path: Path) -> None:
    echo = Echo()
    calls = [("echo", {"text": str(n)}) for n in range(4)]
    agent, provider, events = make_agent(tmp_path, Reply("", calls), "done", tools=[echo])
    result = await agent.run("go", events)
    assert echo.peak == 4
    assert [r.result.content for r in result.tool_calls] == [f"echo: {n}" for n in range(4)]
    tool_messages = [m for m in provider.requests[1].messages if m.role == "tool"]
    assert [m.content for m in tool_messages] == [f"echo: {n}" for n in range(4)]
    assert_valid_for_both_wire_formats(agent.messages)


async def test_edits_run_one_after_another(tmp_path: Path) -> None:
    calls = [("touch", {"path": "a"}), ("echo", {"text": "x"}), ("touch", {"path": "b"})]
    agent, _, events = make_agent(tmp_path, Reply("", calls), "done")
    result = await agent.run("go", events)
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()
    assert [r.result.is_error for r in result.tool_calls] == [False, False, False]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply("", [("nope", {})]), "unknown tool 'nope'; available tools: echo, touch"),
        (Reply("", [("echo", {})], raw_arguments={0: '{"text": "un'}), "not valid JSON"),
        (Reply("", [("echo", {})]), "missing required text"),
        (Reply("", [("echo", {"text": 3})]), "'text' must be string"),
        (Reply("", [("echo", {"text": "a", "x": 1})]), "unknown parameter 'x'"),
        (Reply("", [("echo", {"text": "fail"})]), "echo failed on purpose"),
    ],
)
async def test_bad_calls_go_back_as_errors_and_the_loop_goes_on(
    tmp_path: Path, reply: Reply, message: str
) -> None:
    agent, provider, events = make_agent(tmp_path, reply, "ok, giving up")
    result = await agent.run("go", events)
    assert result.content == "ok, giving up"
    [record] = result.tool_calls
    assert record.result.is_error and message in record.result.content
    tool_message = provider.requests[1].messages[-1]
    assert tool_message.is_error and message in tool_message.content


async def test_step_limit_stops_cleanly_with_every_call_answered(tmp_path: Path) -> None:
    loop: list[Reply | str] = [Reply("", [("echo", {"text": str(n)})]) for n in range(5)]
    agent, provider, events = make_agent(tmp_path, *loop, max_steps=3)
    result = await agent.run("loop forever", events)
    assert result.stopped_by == "max_steps" and result.steps == 3
    assert len(provider.requests) == 3
    assert agent.messages[-1].role == "tool"
    assert_valid_for_both_wire_formats(agent.messages)


async def test_read_only_mode_denies_edits_in_code(tmp_path: Path) -> None:
    agent, _, events = make_agent(
        tmp_path, Reply("", [("touch", {"path": "x"})]), "fine", policy=Policy("read-only")
    )
    result = await agent.run("make x", events)
    assert not (tmp_path / "x").exists()
    assert "permission denied" in result.tool_calls[0].result.content


async def test_ask_goes_to_the_approver_with_reason_and_always(tmp_path: Path) -> None:
    asked: list[ApprovalRequest] = []
    answers = [Approval(False, reason="not that file"), Approval(True, always=True)]

    async def approver(request: ApprovalRequest) -> Approval:
        asked.append(request)
        return answers.pop(0)

    replies: list[Reply | str] = [
        Reply("", [("touch", {"path": "a"})]),
        Reply("", [("touch", {"path": "b"})]),
        Reply("", [("touch", {"path": "c"})]),
        "done",
    ]
    agent, _, events = make_agent(tmp_path, *replies, policy=Policy("ask"), approver=approver)
    result = await agent.run("touch things", events)
    assert [r.result.is_error for r in result.tool_calls] == [True, False, False]
    assert "not that file" in result.tool_calls[0].result.content
    assert len(asked) == 2  # "always" covered the third call
    assert not (tmp_path / "a").exists() and (tmp_path / "c").exists()


async def test_without_a_terminal_ask_means_deny(tmp_path: Path) -> None:
    agent, _, events = make_agent(
        tmp_path, Reply("", [("touch", {"path": "a"})]), "ok", policy=Policy("ask")
    )
    result = await agent.run("touch", events)
    assert "no terminal to ask" in result.tool_calls[0].result.content


async def test_interrupt_while_a_command_runs_answers_every_call(tmp_path: Path) -> None:
    calls = [
        ("bash", {"command": "echo started; sleep 30"}),
        ("bash", {"command": "echo second"}),
    ]
    agent, _, events = make_agent(tmp_path, Reply("", calls), tools=[BashTool()])
    task = asyncio.create_task(agent.run("run it", events))
    for _ in range(500):  # wait for the command to start
        if any(isinstance(e, ToolStarted) for e in events):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    tool_messages = [m for m in agent.messages if m.role == "tool"]
    assert len(tool_messages) == 2
    assert "interrupted" in tool_messages[0].content and "started" in tool_messages[0].content
    assert all(m.is_error for m in tool_messages)
    assert_valid_for_both_wire_formats(agent.messages)


async def test_provider_errors_propagate(tmp_path: Path) -> None:
    provider_error = Overloaded("busy", status=529)
    agent, provider, events = make_agent(tmp_path)
    provider.enqueue(provider_error)
    with pytest.raises(Overloaded):
        await agent.run("hi", events)


@pytest.mark.parametrize("mode", ["full", "ask"])
async def test_secrets_never_reach_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    calls = [("bash", {"command": f"echo $ANTHROPIC_API_KEY; echo {SECRET}"})]
    agent, provider, events = make_agent(
        tmp_path,
        Reply("", calls),
        "done",
        tools=[BashTool()],
        policy=Policy(mode),  # type: ignore[arg-type]
    )
    result = await agent.run("leak it", events)
    sent = "\n".join(m.content for m in provider.requests[1].messages)
    assert SECRET not in sent and SECRET not in result.tool_calls[0].result.content
    assert "[REDACTED]" in sent


async def test_bash_reports_exit_code_and_kills_on_timeout(tmp_path: Path) -> None:
    tool = BashTool()
    context = ToolContext(tmp_path, guard=WorkspaceGuard(tmp_path))
    ok = await tool.run({"command": "echo out; echo err >&2; exit 3"}, context)
    assert ok.is_error and "out" in ok.content and "err" in ok.content
    assert ok.metadata["exit_code"] == 3
    marker = tmp_path / "child-ran"
    slow = await tool.run(
        {"command": f"(sleep 2; touch {marker}) & sleep 30", "timeout": 0.5}, context
    )
    assert slow.metadata["timed_out"] and "killed after 0.5 s" in slow.content
    await asyncio.sleep(2.5)
    assert not marker.exists()  # the whole process group died, background child included
    quiet = await tool.run({"command": "cat"}, context)  # stdin is closed: no waiting
    assert quiet.metadata["exit_code"] == 0


# --- compaction inside one long run -----------------------------------------------------------


def _long_run(tmp_path: Path, **kwargs: Any) -> tuple[Agent, ScriptedProvider, Recorder]:
    """Four echo steps, the fourth using 170k of the scripted model's 200k tokens; then the
    summary (asked for only when the run compacts), a fifth step and the answer."""
    steps = [Reply("", [("echo", {"text": f"step {n}"})]) for n in range(5)]
    steps[3] = Reply("", [("echo", {"text": "step 3"})], usage=Usage(170_000, 5))
    return make_agent(tmp_path, *steps[:4], "SUMMARY", steps[4], "all done", **kwargs)


async def test_a_long_run_compacts_its_older_steps(tmp_path: Path) -> None:
    agent, provider, events = _long_run(tmp_path)
    result = await agent.run("echo five times, please", events)
    assert result.content == "all done" and result.steps == 6
    summary_request, after = provider.requests[4], provider.requests[5].messages
    assert summary_request.messages[0].content == SUMMARY_INSTRUCTIONS
    assert "step 0" in summary_request.messages[1].content and summary_request.tools == []
    summary = SUMMARY_PREFIX + "SUMMARY" + REQUEST_MARK + "echo five times, please"
    assert [m.role for m in after] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert after[1].content == summary
    assert [m.tool_calls[0].arguments["text"] for m in after[2::2]] == ["step 2", "step 3"]
    assert_valid_for_both_wire_formats(after)
    assert_valid_for_both_wire_formats(agent.messages)
    assert [e for e in events if isinstance(e, Compacted)] == [
        Compacted(summary[len(SUMMARY_PREFIX) :], 4)
    ]
    assert result.usage.input_tokens == 10 * 5 + 170_000 + 10  # the summary's call counts
    assert [r.result.content for r in result.tool_calls][-1] == "echo: step 4"


async def test_a_run_compacts_only_when_asked_and_needed(tmp_path: Path) -> None:
    agent, provider, events = _long_run(tmp_path, compact_steps=False)
    provider.replies.remove(Reply("SUMMARY"))
    result = await agent.run("echo five times, please", events)
    assert result.content == "all done" and len(provider.requests) == 6
    assert not any(isinstance(e, Compacted) for e in events)


async def test_a_second_compaction_keeps_the_request_word_for_word(tmp_path: Path) -> None:
    big = Usage(170_000, 5)
    steps = [Reply("", [("echo", {"text": f"s{n}"})], usage=big) for n in range(6)]
    agent, provider, events = make_agent(
        tmp_path, *steps[:3], "FIRST", steps[3], "SECOND", "done", compact_steps=True
    )
    await agent.run("the task", events)
    summaries = [e.summary for e in events if isinstance(e, Compacted)]
    assert summaries == ["FIRST" + REQUEST_MARK + "the task", "SECOND" + REQUEST_MARK + "the task"]
    second_request = provider.requests[5]  # after s0..s2, FIRST, s3: the second summary's
    assert (REQUEST_MARK + "the task") in second_request.messages[1].content
    assert_valid_for_both_wire_formats(agent.messages)


def test_steps_are_split_before_a_model_call_never_between_a_call_and_its_result() -> None:
    call = ToolCall("c1", "echo", {"text": "x"})
    messages = [
        ChatMessage("system", "sys"),
        ChatMessage("user", "task"),
        *[
            m
            for n in range(4)
            for m in (
                ChatMessage("assistant", "", tool_calls=(dataclasses.replace(call, id=f"c{n}"),)),
                ChatMessage("tool", f"r{n}", tool_call_id=f"c{n}"),
            )
        ],
    ]
    system, older, recent = split_steps(messages, keep_steps=2)
    assert system == messages[:1] and older == messages[1:6] and recent == messages[6:]
    assert split_steps(messages[:4], keep_steps=2)[1] == []  # one step: nothing to summarise
