"""One connection per provider: every response is read to its end, so httpx reuses the
connection; and a long conversation is encoded once, not again on every step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codive_cli.errors import ProviderError
from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    Done,
    ProviderConfig,
    ToolCall,
)
from codive_cli.providers import anthropic, create_provider, openai
from codive_cli.providers._wire import JsonBody, dumps
from codive_cli.providers.base import HttpProvider
from tests.helpers import isolated_env
from tests.scripted_server import ScriptedServer

CODIVE = str(Path(sys.executable).parent / "codive")
FORMATS = ["openai", "anthropic"]


def read_step(n: int) -> dict[str, Any]:
    call = {"id": f"c{n}", "name": "read_file", "arguments": {"path": "a.txt"}}
    return {"tool_calls": [call]}


def codive(server: ScriptedServer, fmt: str, tmp_path: Path, *args: str, stdin: str = "") -> Any:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True, exist_ok=True)
    (work / "a.txt").write_text("hello\n" * 20)
    env = isolated_env(tmp_path, ANTHROPIC_API_KEY="k", OPENAI_API_KEY="k", NO_COLOR="1")
    base = server.base_url + ("/v1" if fmt == "openai" else "")
    return subprocess.run(
        [CODIVE, *args[:1], "-p", fmt, "--base-url", base, *args[1:]],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        input=stdin,
        timeout=120,
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [True, False])
def test_twenty_tool_steps_use_one_connection(tmp_path: Path, fmt: str, stream: bool) -> None:
    script = [read_step(n) for n in range(20)] + [{"text": "done"}]
    flags = [] if stream else ["--no-stream"]
    with ScriptedServer(script) as server:
        result = codive(server, fmt, tmp_path, "complete", "-y", *flags, "read a.txt 20 times")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "done"
        assert server.stats()["requests"] == 21
        assert server.connections == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_chat_of_several_turns_uses_one_connection(tmp_path: Path, fmt: str) -> None:
    script = [{"text": "one"}, read_step(1), {"text": "two"}, {"text": "three"}]
    with ScriptedServer(script) as server:
        result = codive(server, fmt, tmp_path, "chat", stdin="first\nsecond\nthird\n")
        assert result.returncode == 0, result.stderr
        assert server.stats()["requests"] == 4
        assert server.connections == 1


def provider_for(server: ScriptedServer, fmt: str) -> HttpProvider:
    base = server.base_url + ("/v1" if fmt == "openai" else "")
    provider = create_provider(ProviderConfig(fmt, model="m", api_key="k", base_url=base))
    assert isinstance(provider, HttpProvider)

    async def no_wait(seconds: float) -> None:
        return None

    provider.http.sleep = no_wait
    return provider


REQUEST = CompletionRequest([ChatMessage("user", "hi")])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("status", [429, 500])
async def test_a_retry_reuses_the_connection(fmt: str, status: int) -> None:
    failure = {"status": status, "headers": {"retry-after": "0"}}
    with ScriptedServer([failure, {"text": "streamed"}, failure, {"text": "whole"}]) as server:
        async with provider_for(server, fmt) as provider:
            streamed = [e async for e in provider.stream(REQUEST)]
            whole = await provider.complete(REQUEST)
        assert isinstance(streamed[-1], Done)
        assert whole.content == "whole"
        assert server.stats()["requests"] == 4
        assert server.connections == 1


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_caller_that_stops_at_done_leaves_the_connection_reusable(fmt: str) -> None:
    with ScriptedServer([{"text": "a"}, {"text": "b"}, {"status": 400}, {"text": "c"}]) as server:
        async with provider_for(server, fmt) as provider:
            for _ in range(2):
                async for event in provider.stream(REQUEST):
                    if isinstance(event, Done):
                        break  # the stream's generator is left suspended, never closed
            with pytest.raises(ProviderError):
                await provider.complete(REQUEST)  # an error body is read to its end too
            await provider.complete(REQUEST)
        assert server.connections == 1


def conversation(steps: int) -> list[ChatMessage]:
    messages = [ChatMessage("system", "sys"), ChatMessage("user", "go")]
    for n in range(steps):
        calls: tuple[ToolCall, ...] = (ToolCall(f"c{n}", "read_file", {"path": "a.txt"}),)
        if n % 3 == 0:  # parallel calls: two tool results in a row (merged by Anthropic)
            calls += (ToolCall(f"d{n}", "grep", {"pattern": "é"}),)
        messages.append(ChatMessage("assistant", "", tool_calls=calls))
        messages += [ChatMessage("tool", f"text {c.id} ✓", tool_call_id=c.id) for c in calls]
    return messages


@pytest.mark.parametrize("fmt", FORMATS)
async def test_earlier_messages_are_encoded_once_and_sent_unchanged(fmt: str) -> None:
    provider = create_provider(ProviderConfig(fmt, model="m", api_key="k"))
    assert isinstance(provider, HttpProvider)
    messages = conversation(9)
    first = await provider.body(CompletionRequest(messages[:-4]), stream=True)
    before = json.loads(dumps(first))
    second = await provider.body(CompletionRequest(messages), stream=True)
    if fmt == "openai":
        assert second["messages"] == openai.convert_messages(messages)
        assert all(a is b for a, b in zip(first["messages"], second["messages"], strict=False))
    else:
        assert (second.get("system"), second["messages"]) == anthropic.convert_messages(messages)
    assert json.loads(dumps(first)) == before  # merging made new messages, changed none
    encoded = provider.http.bodies.encode(second)
    assert encoded == dumps(second).encode()
    await provider.aclose()


def test_the_caches_forget_messages_no_longer_sent() -> None:
    bodies = JsonBody()
    old = [{"role": "user", "content": str(n)} for n in range(50)]
    bodies.encode({"model": "m", "messages": old})
    new = [{"role": "user", "content": "summary"}, *old[-2:]]
    assert json.loads(bodies.encode({"model": "m", "messages": new}))["messages"] == new
    assert len(bodies.texts) == 3
