"""MCP servers' tools as codive tools: `[mcp.servers.<name>]` in codive.toml.

    async with contextlib.AsyncExitStack() as stack:
        tools = await start_mcp_tools(settings.mcp.servers, stack, on_error=reporter.warn)
        ...  # closing the stack stops every server (stdio children are killed if they linger)

Each server lives in a task of its own: the SDK's transports and sessions are anyio task
groups, which must be left by the task that entered them, while `stack` may be closed from
any task. That task connects (a stdio child process or a streamable-HTTP endpoint),
initializes, lists the tools, then waits until the stack asks it to stop. Tool calls are
plain requests on its session and may come from any task.

The `mcp` SDK is imported only when a server is configured: it is slow to import.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from codive_cli.tools.base import Tool
from codive_cli.tools.mcp.server import Server
from codive_cli.tools.mcp.tool import McpTool, hashed, result_text, tool_name

if TYPE_CHECKING:
    from codive_cli.policy.sandbox import Sandbox
    from codive_cli.settings.schema import McpServerSettings

__all__ = ["McpTool", "result_text", "start_mcp_tools", "tool_name"]


async def start_mcp_tools(
    servers: Mapping[str, McpServerSettings],
    stack: contextlib.AsyncExitStack,
    *,
    on_error: Callable[[str], None],
    sandbox: Sandbox | None = None,
) -> list[Tool]:
    """Start every configured server (concurrently) and return their tools.

    A server that fails to start is reported through `on_error` and skipped. Closing
    `stack` stops the servers that started.
    """
    if not servers:
        return []
    # The SDK logs tracebacks (say, for a server printing to stdout); they belong in
    # codive's logging setup, if any, never straight on the terminal (logging's last resort).
    sdk_log = logging.getLogger("mcp")
    if not any(isinstance(handler, logging.NullHandler) for handler in sdk_log.handlers):
        sdk_log.addHandler(logging.NullHandler())
    started = _configured(servers, on_error, sandbox)
    if not started:
        return []
    for server in started:
        server.start()
    # Registered before waiting, so servers stop even if this start is interrupted.
    stack.push_async_callback(_stop_all, started)
    await asyncio.gather(*(server.wait_ready() for server in started))
    return _tools_of(started, on_error)


def _configured(
    servers: Mapping[str, McpServerSettings],
    on_error: Callable[[str], None],
    sandbox: Sandbox | None,
) -> list[Server]:
    """A Server for each well-formed setting; the others reported."""
    started: list[Server] = []
    for name, settings in servers.items():
        problem = _settings_problem(settings)
        if problem:
            on_error(f"mcp server {name}: {problem}")
        else:
            started.append(Server(name, settings, sandbox))
    return started


def _tools_of(started: Sequence[Server], on_error: Callable[[str], None]) -> list[Tool]:
    """The tools of the servers that are up, under names unique among them all."""
    tools: list[Tool] = []
    used: set[str] = set()
    for server in started:
        if server.listed is None or server.problem:
            on_error(f"mcp server {server.name}: {server.problem or 'did not start'}")
            continue
        for remote in server.listed:
            name = tool_name(server.name, remote.name)
            if name in used:  # two names that read the same once sanitized
                name = hashed(name, server.name, remote.name)
            if name in used:
                on_error(f"mcp server {server.name}: tool {remote.name!r} skipped (name clash)")
                continue
            used.add(name)
            tools.append(McpTool(server, remote, name))
    return tools


def _settings_problem(settings: McpServerSettings) -> str:
    if settings.command and settings.url:
        return "set either command or url, not both"
    if not settings.command and not settings.url:
        return "set command (a stdio server) or url (a streamable-HTTP server)"
    return ""


async def _stop_all(servers: Sequence[Server]) -> None:
    for server in servers:
        server.request_stop()
    await asyncio.gather(*(server.stopped() for server in servers))
