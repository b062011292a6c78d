"""MCP servers' tools: started from settings, called, refused by the policy, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import mcp_types
import pytest
import pytest_asyncio

from codive_cli.agent.loop import Agent
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy
from codive_cli.providers.scripted import Reply, ScriptedProvider
from codive_cli.settings.schema import McpServerSettings
from codive_cli.tools.base import Tool, ToolContext, ToolError
from codive_cli.tools.mcp import McpTool, result_text, start_mcp_tools, tool_name

# One event loop for the module's async tests, so the servers of the `demo` fixture start
# once (importing the SDK takes each server process over a second).
module_loop = pytest.mark.asyncio(loop_scope="module")

DEMO = Path(__file__).with_name("mcp_demo_server.py")


def demo_settings(*extra: str, timeout: float = 20.0) -> McpServerSettings:
    """The demo server; `extra` arguments (ignored by it) tell its processes apart."""
    return McpServerSettings(command=sys.executable, args=[str(DEMO), *extra], timeout=timeout)


def demo_children(label: str = "") -> set[int]:
    """Live demo servers started by this process (found in /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        words = [word.decode(errors="replace") for word in cmdline]
        if (
            parent == os.getpid()
            and any(word.endswith("mcp_demo_server.py") for word in words)
            and (not label or label in words)
        ):
            found.add(int(entry.name))
    return found


def context(tmp_path: Path) -> ToolContext:
    return ToolContext(tmp_path, guard=WorkspaceGuard(tmp_path))


# A stdio server without the SDK (so it starts at once): it answers the handshake and
# lists its tools: `crash`, whose call makes it exit with a word on stderr, and two whose
# names read the same once sanitized.
FRAGILE = r"""
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    method = message.get("method")
    if method == "initialize":
        result = {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fragile", "version": "0"},
        }
    elif method == "tools/list":
        names = ["crash", "odd.name", "odd_name"]
        result = {"tools": [{"name": name, "inputSchema": {"type": "object"}} for name in names]}
    elif method == "tools/call":
        sys.stderr.write("fragile: giving up\n")
        sys.exit(1)
    else:
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)
"""


@dataclass
class Started:
    stack: contextlib.AsyncExitStack
    tools: dict[str, Tool]
    errors: list[str]


@dataclass
class Demo:
    settings: McpServerSettings
    tools: dict[str, Tool]
    lifecycle: Started  # for test_servers_start_together_fail_alone_and_stop_with_the_stack


async def start(servers: dict[str, McpServerSettings]) -> Started:
    stack = contextlib.AsyncExitStack()
    errors: list[str] = []
    tools = await start_mcp_tools(servers, stack, on_error=errors.append)
    return Started(stack, {tool.name: tool for tool in tools}, errors)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def demo() -> AsyncIterator[Demo]:
    """The demo server for most tests and, started alongside to save time, the servers
    of the start-and-stop test (which closes their stack itself)."""
    settings = demo_settings("shared")
    shared, lifecycle = await asyncio.gather(
        start({"demo": settings}),
        start(
            {
                "missing": McpServerSettings(command="/nonexistent/codive-mcp-server"),
                "one": demo_settings("one"),
                "fragile": McpServerSettings(command=sys.executable, args=["-c", FRAGILE]),
            }
        ),
    )
    try:
        assert shared.errors == []
        yield Demo(settings, shared.tools, lifecycle)
    finally:
        await lifecycle.stack.aclose()
        await shared.stack.aclose()


# --- what the model sees ----------------------------------------------------------------


@module_loop
async def test_tools_are_named_described_and_typed(demo: Demo) -> None:
    assert sorted(demo.tools) == [
        "mcp__demo__add",
        "mcp__demo__fail",
        "mcp__demo__shout",
        "mcp__demo__slow",
        "mcp__demo__write",
    ]
    add = demo.tools["mcp__demo__add"]
    assert isinstance(add, McpTool)
    assert (add.server, add.remote, add.kind) == ("demo", "add", "execute")
    assert add.description == "[MCP server demo] Add two integers."
    assert add.parameters["type"] == "object"
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.parameters["properties"]["b"]["type"] == "integer"
    assert sorted(add.parameters["required"]) == ["a", "b"]
    assert demo.tools["mcp__demo__shout"].parameters["properties"]["text"]["type"] == "string"
    assert demo.tools["mcp__demo__slow"].parameters["properties"]["seconds"]["type"] == "number"
    assert demo.tools["mcp__demo__fail"].parameters["properties"] == {}
    definition = add.definition()
    assert definition.name == "mcp__demo__add"
    assert add.paths({"a": 1, "b": 2}) == []


def test_tool_names_fit_the_model_apis() -> None:
    assert tool_name("demo", "add") == "mcp__demo__add"
    assert tool_name("my server", "get.weather/now") == "mcp__my_server__get_weather_now"
    assert tool_name("srv-1", "ünïcode") == "mcp__srv-1___n_code"
    long = tool_name("server", "x" * 100)
    assert len(long) == 64
    assert long.startswith("mcp__server__xxx")
    assert long != tool_name("server", "x" * 101)  # the cut keeps names apart


def test_result_blocks_become_text() -> None:
    result = mcp_types.CallToolResult(
        content=[
            mcp_types.TextContent(type="text", text="one"),
            mcp_types.ImageContent(type="image", data="AAAA", mime_type="image/png"),
            mcp_types.ResourceLink(type="resource_link", name="r", uri="file:///r.txt"),
            mcp_types.EmbeddedResource(
                type="resource",
                resource=mcp_types.TextResourceContents(uri="file:///e.txt", text="inside"),
            ),
            mcp_types.EmbeddedResource(
                type="resource",
                resource=mcp_types.BlobResourceContents(uri="file:///b.bin", blob="AAAA"),
            ),
            mcp_types.TextContent(type="text", text="two"),
        ]
    )
    assert result_text(result) == (
        "one\n[image: image/png]\n[resource: file:///r.txt]\n"
        "[resource: file:///e.txt]\ninside\n[resource: file:///b.bin]\ntwo"
    )
    structured = mcp_types.CallToolResult(content=[], structured_content={"n": 1})
    assert result_text(structured) == '{"n": 1}'


# --- calls ------------------------------------------------------------------------------


@module_loop
async def test_calls_return_the_servers_answers(demo: Demo, tmp_path: Path) -> None:
    add = await demo.tools["mcp__demo__add"].run({"a": 2, "b": 3}, context(tmp_path))
    assert (add.content, add.is_error) == ("5", False)
    shout = await demo.tools["mcp__demo__shout"].run({"text": "hello"}, context(tmp_path))
    assert shout.content == "HELLO"


@module_loop
async def test_a_failing_tool_is_an_error_result(demo: Demo, tmp_path: Path) -> None:
    result = await demo.tools["mcp__demo__fail"].run({}, context(tmp_path))
    assert result.is_error
    assert "fail always fails" in result.content
    bad = await demo.tools["mcp__demo__add"].run({"a": 2, "b": "x"}, context(tmp_path))
    assert bad.is_error and "valid integer" in bad.content


@module_loop
async def test_a_slow_call_times_out_and_the_session_goes_on(demo: Demo, tmp_path: Path) -> None:
    # The timeout is read at each call; the server started under the longer one.
    demo.settings.timeout = 0.2
    try:
        started = time.monotonic()
        with pytest.raises(ToolError, match=r"mcp server demo: slow .*0\.2s \(timed out"):
            await demo.tools["mcp__demo__slow"].run({"seconds": 5}, context(tmp_path))
        assert time.monotonic() - started < 2
    finally:
        demo.settings.timeout = 20.0
    after = await demo.tools["mcp__demo__add"].run({"a": 1, "b": 1}, context(tmp_path))
    assert after.content == "2"
    quick = await demo.tools["mcp__demo__slow"].run({"seconds": 0.01}, context(tmp_path))
    assert quick.content == "slept 0.01s"


# --- through the agent ------------------------------------------------------------------


def add_agent(demo: Demo, tmp_path: Path, policy: Policy) -> tuple[Agent, ScriptedProvider]:
    provider = ScriptedProvider()
    provider.enqueue(Reply("", [("mcp__demo__add", {"a": 2, "b": 3})]), "done")
    agent = Agent(provider, list(demo.tools.values()), context(tmp_path), policy=policy)
    return agent, provider


@module_loop
async def test_the_agent_runs_an_allowed_mcp_tool(demo: Demo, tmp_path: Path) -> None:
    agent, provider = add_agent(demo, tmp_path, Policy("ask", allow=["mcp__demo__add"]))
    result = await agent.run("add 2 and 3")
    assert result.content == "done"
    offered = {tool.name: tool for tool in provider.requests[0].tools}
    assert offered["mcp__demo__add"].description == "[MCP server demo] Add two integers."
    answer = provider.requests[1].messages[-1]
    assert (answer.role, answer.content, answer.is_error) == ("tool", "5", False)


@module_loop
async def test_the_agent_asks_before_an_mcp_tool(demo: Demo, tmp_path: Path) -> None:
    # No allow rule: the mode asks, and with no terminal the answer is no.
    agent, provider = add_agent(demo, tmp_path, Policy("ask"))
    await agent.run("add 2 and 3")
    answer = provider.requests[1].messages[-1]
    assert answer.role == "tool" and answer.is_error
    assert "did not allow" in answer.content and "mcp__demo__add" in answer.content
    # Full mode runs it without asking.
    agent, provider = add_agent(demo, tmp_path, Policy("full"))
    await agent.run("add 2 and 3")
    assert provider.requests[1].messages[-1].content == "5"


# --- starting and stopping --------------------------------------------------------------


@module_loop
async def test_servers_start_together_fail_alone_and_stop_with_the_stack(
    demo: Demo, tmp_path: Path
) -> None:
    started = demo.lifecycle
    assert len(started.errors) == 1
    assert started.errors[0].startswith("mcp server missing: could not start")
    assert "No such file" in started.errors[0]
    names = sorted(started.tools)
    assert names[:2] == ["mcp__fragile__crash", "mcp__fragile__odd_name"]
    assert names[2].startswith("mcp__fragile__odd_name_") and len(names[2]) == 31
    assert names[3:] == [
        "mcp__one__add",
        "mcp__one__fail",
        "mcp__one__shout",
        "mcp__one__slow",
        "mcp__one__write",
    ]
    remotes = [tool.remote for tool in started.tools.values() if isinstance(tool, McpTool)]
    assert sorted(remotes) == [
        *("add", "crash", "fail", "odd.name", "odd_name", "shout", "slow", "write")
    ]
    odd = started.tools[names[2]]
    assert isinstance(odd, McpTool) and odd.remote == "odd_name"
    assert started.tools["mcp__fragile__crash"].description == "[MCP server fragile]"
    (one,) = demo_children("one")
    result = await started.tools["mcp__one__shout"].run({"text": "a"}, context(tmp_path))
    assert result.content == "A"

    # A server that dies: its calls fail with a message naming it (and its last words),
    # the other servers go on.
    crash = started.tools["mcp__fragile__crash"]
    with pytest.raises(ToolError, match="mcp server fragile closed the connection") as error:
        await crash.run({}, context(tmp_path))
    assert "fragile: giving up" in str(error.value)
    with pytest.raises(ToolError, match="mcp server fragile"):
        await crash.run({}, context(tmp_path))
    result = await started.tools["mcp__one__add"].run({"a": 1, "b": 2}, context(tmp_path))
    assert result.content == "3"

    await started.stack.aclose()
    assert one not in demo_children("one")
    assert demo_children("one") == set()
    with pytest.raises(ToolError, match="mcp server one is not running"):
        await started.tools["mcp__one__add"].run({"a": 1, "b": 2}, context(tmp_path))


@module_loop
async def test_a_streamable_http_server_gets_the_headers(tmp_path: Path) -> None:
    import uvicorn
    from mcp.server.mcpserver import MCPServer
    from starlette.types import Receive, Scope, Send

    web = MCPServer("web", log_level="WARNING")

    @web.tool()
    def shout(text: str) -> str:
        """Return the text in upper case."""
        return text.upper()

    app = web.streamable_http_app()
    authorizations: set[bytes | None] = set()

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/mcp":
            authorizations.add(dict(scope["headers"]).get(b"authorization"))
        await app(scope, receive, send)

    config = uvicorn.Config(recording, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        servers = {
            "web": McpServerSettings(
                url=f"http://127.0.0.1:{port}/mcp", headers={"Authorization": "Bearer t0ken"}
            ),
            "lost": McpServerSettings(url=f"http://127.0.0.1:{port}/nope"),
        }
        errors: list[str] = []
        async with contextlib.AsyncExitStack() as stack:
            tools = await start_mcp_tools(servers, stack, on_error=errors.append)
            assert [tool.name for tool in tools] == ["mcp__web__shout"]
            result = await tools[0].run({"text": "over http"}, context(tmp_path))
            assert result.content == "OVER HTTP"
        assert errors == [f"mcp server lost: Not Found (from http://127.0.0.1:{port}/nope)"]
        assert authorizations == {b"Bearer t0ken"}
    finally:
        server.should_exit = True
        await serving


@module_loop
async def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    errors: list[str] = []
    # Reads its stdin to the end, so it exits as soon as the client lets go.
    mute = McpServerSettings(
        command=sys.executable, args=["-c", "import sys; sys.stdin.read()"], timeout=0.2
    )
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        tools = await start_mcp_tools({"mute": mute}, stack, on_error=errors.append)
    assert tools == []
    assert errors == ["mcp server mute: did not start within 0.2s (its timeout setting)"]
    assert time.monotonic() - started < 2


@module_loop
async def test_a_server_that_exits_is_reported_with_its_stderr(tmp_path: Path) -> None:
    errors: list[str] = []
    crash = McpServerSettings(
        command=sys.executable,
        args=["-c", "import sys; sys.stderr.write('bad config: no token\\n'); sys.exit(3)"],
    )
    async with contextlib.AsyncExitStack() as stack:
        tools = await start_mcp_tools({"crash": crash}, stack, on_error=errors.append)
    assert tools == []
    assert len(errors) == 1
    assert errors[0].startswith("mcp server crash: the server closed the connection")
    assert "bad config: no token" in errors[0]


@module_loop
async def test_settings_without_a_command_or_url_are_reported() -> None:
    errors: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        servers = {
            "empty": McpServerSettings(),
            "both": McpServerSettings(command="x", url="http://localhost:1/mcp"),
        }
        assert await start_mcp_tools(servers, stack, on_error=errors.append) == []
    assert errors == [
        "mcp server empty: set command (a stdio server) or url (a streamable-HTTP server)",
        "mcp server both: set either command or url, not both",
    ]


def test_no_servers_is_quick_and_imports_no_sdk() -> None:
    code = (
        "import asyncio, contextlib, sys\n"
        "from codive_cli.tools.mcp import start_mcp_tools\n"
        "async def main():\n"
        "    async with contextlib.AsyncExitStack() as stack:\n"
        "        return await start_mcp_tools({}, stack, on_error=print)\n"
        "assert asyncio.run(main()) == []\n"
        "assert not [m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'mcp_types'))]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


async def test_a_third_party_server_from_pypi() -> None:
    """mcp-server-time, installed from PyPI by `make install`, used as published."""
    errors: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        tools = await start_mcp_tools(
            {"time": McpServerSettings(command=sys.executable, args=["-m", "mcp_server_time"])},
            stack,
            on_error=errors.append,
        )
        by_name = {tool.name: tool for tool in tools}
        assert errors == []
        assert "mcp__time__get_current_time" in by_name
        result = await by_name["mcp__time__get_current_time"].run(
            {"timezone": "UTC"}, ToolContext(Path.cwd(), guard=WorkspaceGuard(Path.cwd()))
        )
    assert not result.is_error and "UTC" in result.content
