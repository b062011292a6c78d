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
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from codive_cli.tools.base import Tool, ToolContext, ToolError, ToolKind, ToolResult, truncate

if TYPE_CHECKING:
    import anyio
    import mcp_types
    from mcp import ClientSession
    from mcp.client import IncomingMessage
    from mcp.client._transport import TransportStreams

    from codive_cli.settings.schema import McpServerSettings

# Tool names the model APIs accept: ^[A-Za-z0-9_-]{1,64}$.
NAME_LIMIT = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Extra seconds a call may take beyond the server's timeout before codive stops waiting
# itself (the SDK's own timeout, which also cancels the call on the server, comes first).
_CALL_GRACE = 5.0
_STDERR_TAIL = 600


def tool_name(server: str, tool: str) -> str:
    """`mcp__{server}__{tool}` with every other character than [A-Za-z0-9_-] as `_`; a name
    longer than 64 characters is cut and ends in a hash of the original, to stay unique."""
    name = _UNSAFE.sub("_", f"mcp__{server}__{tool}")
    if len(name) > NAME_LIMIT:
        name = f"{name[: NAME_LIMIT - 9]}_{_digest(server, tool)}"
    return name


def _digest(server: str, tool: str) -> str:
    return hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]


class McpTool(Tool):
    """One tool of an MCP server. Calls run on the server, so they ask like bash does."""

    kind: ClassVar[ToolKind] = "execute"

    def __init__(self, server: _Server, remote: mcp_types.Tool, name: str) -> None:
        schema = dict(remote.input_schema or {})
        schema["type"] = "object"
        schema.setdefault("properties", {})
        description = (remote.description or remote.title or "").strip()
        # Tool declares name, description and parameters per class (the built-in tools);
        # an MCP tool's come from its server, so each instance carries its own.
        vars(self).update(
            name=name,
            description=f"[MCP server {server.name}] {description}".rstrip(),
            parameters=schema,
        )
        self.server = server.name
        self.remote = remote.name  # the tool's own name on its server
        self._server = server

    def paths(self, arguments: dict[str, Any]) -> list[str]:
        return []  # whatever a server touches, codive cannot see it

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        import anyio
        import mcp_types
        from mcp import MCPError

        server = self._server
        session = server.session
        if session is None:
            raise ToolError(f"mcp server {server.name} is not running{server.why()}")
        timeout = server.settings.timeout
        timed_out = (
            f"mcp server {server.name}: {self.remote} did not answer within {timeout:g}s "
            "(timed out; the call was cancelled)"
        )
        try:
            with anyio.fail_after(timeout + _CALL_GRACE):
                result = await session.call_tool(
                    self.remote, arguments, read_timeout_seconds=timeout
                )
        except MCPError as error:
            if error.code == mcp_types.REQUEST_TIMEOUT:
                raise ToolError(timed_out) from None
            if error.code == mcp_types.CONNECTION_CLOSED:
                raise ToolError(
                    f"mcp server {server.name} closed the connection{server.why()}"
                ) from None
            raise ToolError(f"mcp server {server.name}: {self.remote}: {error.message}") from None
        except TimeoutError:
            raise ToolError(timed_out) from None
        except Exception as error:  # the SDK's or the transport's: the model sees a message
            raise ToolError(
                f"mcp server {server.name}: {self.remote}: {_describe(error)}"
            ) from None
        text = result_text(result)
        if result.is_error and not text:
            text = f"{self.remote} failed without a message"
        return ToolResult(
            truncate(text),
            is_error=result.is_error,
            metadata={"mcp_server": server.name, "mcp_tool": self.remote},
        )


def result_text(result: mcp_types.CallToolResult) -> str:
    """Text blocks as they are; images, audio and resources as a one-line summary."""
    import mcp_types

    parts: list[str] = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        elif isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
            parts.append(f"[{block.type}: {block.mime_type}]")
        elif isinstance(block, mcp_types.ResourceLink):
            parts.append(f"[resource: {block.uri}]")
        elif isinstance(block, mcp_types.EmbeddedResource):
            inner = block.resource
            head = f"[resource: {inner.uri}]"
            if isinstance(inner, mcp_types.TextResourceContents):
                parts.append(f"{head}\n{inner.text}")
            else:
                parts.append(head)
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


class _Server:
    """One configured server: the task that holds its connection, and its session."""

    def __init__(self, name: str, settings: McpServerSettings, sandbox: Any = None) -> None:
        self.name = name
        self.settings = settings
        self.sandbox = sandbox  # codive_cli.policy.sandbox.Sandbox, for stdio servers
        self.session: ClientSession | None = None
        self.listed: list[mcp_types.Tool] | None = None
        self.problem = ""  # why it did not start or stopped
        self._fault = ""  # the last transport fault (say, stdout that is not JSON-RPC)
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._scope: anyio.CancelScope | None = None
        self._task: asyncio.Task[None] | None = None
        self._errlog: TextIO | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._hold(), name=f"mcp server {self.name}")

    async def wait_ready(self) -> None:
        """Until the tools are listed, the server failed, or the start timeout passed."""
        try:
            await asyncio.wait_for(self._ready.wait(), self.settings.timeout)
        except TimeoutError:
            self._fail(f"did not start within {self.settings.timeout:g}s (its timeout setting)")
            self._abort()
            await self.stopped()

    def request_stop(self) -> None:
        self._stop.set()

    async def stopped(self) -> None:
        if self._task is not None:
            await asyncio.wait([self._task])

    def why(self) -> str:
        """`: problem (stderr: ...)`, `(stderr: ...)`, or "" when nothing is known."""
        detail = self._explain()
        return f": {detail}" if self.problem else f" {detail}" if detail else ""

    def _explain(self) -> str:
        """The problem, what went wrong on the wire, and the end of the server's stderr."""
        detail = self.problem
        if self._fault and self._fault not in detail:
            detail = f"{detail}; {self._fault}" if detail else self._fault
        tail = self._stderr_tail()
        if tail and tail not in detail:
            detail = f"{detail} (stderr: {tail})" if detail else f"(stderr: {tail})"
        return detail

    def _fail(self, problem: str) -> None:
        if not self.problem:
            self.problem = problem

    def _abort(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
        elif self._task is not None:
            self._task.cancel()

    async def _hold(self) -> None:
        import anyio
        import mcp_types
        from mcp import ClientSession

        from codive_cli import __version__

        try:
            with anyio.CancelScope() as self._scope:
                async with contextlib.AsyncExitStack() as inner:
                    read, write = await self._connect(inner)
                    session = await inner.enter_async_context(
                        ClientSession(
                            read,
                            write,
                            read_timeout_seconds=self.settings.timeout,
                            message_handler=self._on_message,
                            client_info=mcp_types.Implementation(
                                name="codive", version=__version__
                            ),
                        )
                    )
                    await session.initialize()
                    self.listed = await _list_tools(session)
                    self.session = session
                    self._ready.set()
                    await self._stop.wait()
                    self.session = None
        except Exception as error:
            self._fail(_start_problem(error, self.settings))
        finally:
            self.session = None
            if self.listed is None:
                self._fail("stopped before it listed its tools")
            if self.problem:  # keep the stderr tail: the file goes now
                self.problem = self._explain()
            self._ready.set()
            if self._errlog is not None:
                self._errlog.close()

    async def _on_message(self, message: IncomingMessage) -> None:
        """Remember transport faults: they explain a server that does not answer."""
        if isinstance(message, Exception):
            self._fault = _fault(message)

    async def _connect(self, inner: contextlib.AsyncExitStack) -> TransportStreams:
        settings = self.settings
        if settings.command:
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            # The server's stderr goes to a file, not over codive's screen; its tail
            # explains a server that fails. _hold closes it once the server has stopped.
            self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            argv = [settings.command, *settings.args]
            if settings.sandbox and self.sandbox is not None and self.sandbox.available:
                argv = self.sandbox.wrap(argv, "accept-edits")  # the workspace-write policy
            parameters = StdioServerParameters(
                command=argv[0], args=argv[1:], env={**_environment(), **settings.env}
            )
            return await inner.enter_async_context(stdio_client(parameters, errlog=self._errlog))
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        assert settings.url is not None
        client = await inner.enter_async_context(
            httpx2.AsyncClient(
                headers=dict(settings.headers),
                timeout=httpx2.Timeout(settings.timeout, read=max(settings.timeout, 300.0)),
            )
        )
        return await inner.enter_async_context(
            streamable_http_client(settings.url, http_client=client)
        )

    def _stderr_tail(self) -> str:
        """The end of what the server wrote to stderr (stdio servers), on one line."""
        if self._errlog is None or self._errlog.closed:
            return ""
        # pread: the child shares the file offset, which must not move under it.
        pread = getattr(os, "pread", None)  # not on Windows
        if pread is None:
            return ""
        try:
            fd = self._errlog.fileno()
            data: bytes = pread(fd, _STDERR_TAIL, max(0, os.fstat(fd).st_size - _STDERR_TAIL))
        except OSError:
            return ""
        lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
        text = " | ".join(line for line in lines[-6:] if line)
        return text[-_STDERR_TAIL:]


async def _list_tools(session: ClientSession) -> list[mcp_types.Tool]:
    import mcp_types

    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    while True:
        params = None if cursor is None else mcp_types.PaginatedRequestParams(cursor=cursor)
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


def _describe(error: BaseException) -> str:
    """One line for a failure; an exception group by its first real member."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    from mcp import MCPError

    if isinstance(error, MCPError):
        import mcp_types

        if error.code == mcp_types.CONNECTION_CLOSED:
            return "the server closed the connection"
        return error.message
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _start_problem(error: BaseException, settings: McpServerSettings) -> str:
    """Why a server did not start, naming its command or address."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    from mcp import MCPError

    if settings.command:
        if isinstance(error, OSError):
            return f"could not start {settings.command!r}: {error.strerror or error}"
        return _describe(error)
    import httpx2
    import mcp_types

    if isinstance(error, httpx2.TransportError):
        return f"could not connect to {settings.url}: {error}"
    if isinstance(error, MCPError) and error.code != mcp_types.CONNECTION_CLOSED:
        return f"{error.message} (from {settings.url})"
    return f"{_describe(error)} ({settings.url})"


def _fault(error: Exception) -> str:
    import pydantic

    if isinstance(error, pydantic.ValidationError):
        seen = error.errors()[0].get("input") if error.error_count() else None
        if isinstance(seen, str):
            return f"it wrote what is not JSON-RPC on stdout: {seen[:80]!r}"
        return "it sent a message that is not valid MCP"
    return _describe(error)


def _settings_problem(settings: McpServerSettings) -> str:
    if settings.command and settings.url:
        return "set either command or url, not both"
    if not settings.command and not settings.url:
        return "set command (a stdio server) or url (a streamable-HTTP server)"
    return ""


async def _stop_all(servers: Sequence[_Server]) -> None:
    for server in servers:
        server.request_stop()
    await asyncio.gather(*(server.stopped() for server in servers))


async def start_mcp_tools(
    servers: Mapping[str, McpServerSettings],
    stack: contextlib.AsyncExitStack,
    *,
    on_error: Callable[[str], None],
    sandbox: Any = None,
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
    started: list[_Server] = []
    for name, settings in servers.items():
        problem = _settings_problem(settings)
        if problem:
            on_error(f"mcp server {name}: {problem}")
        else:
            started.append(_Server(name, settings, sandbox))
    if not started:
        return []
    for server in started:
        server.start()
    # Registered before waiting, so servers stop even if this start is interrupted.
    stack.push_async_callback(_stop_all, started)
    await asyncio.gather(*(server.wait_ready() for server in started))

    tools: list[Tool] = []
    used: set[str] = set()
    for server in started:
        if server.listed is None or server.problem:
            on_error(f"mcp server {server.name}: {server.problem or 'did not start'}")
            continue
        for remote in server.listed:
            name = tool_name(server.name, remote.name)
            if name in used:  # two names that read the same once sanitized
                name = f"{name[: NAME_LIMIT - 9]}_{_digest(server.name, remote.name)}"
            if name in used:
                on_error(f"mcp server {server.name}: tool {remote.name!r} skipped (name clash)")
                continue
            used.add(name)
            tools.append(McpTool(server, remote, name))
    return tools


def _environment() -> dict[str, str]:
    """The environment for a stdio server, without any credential codive knows (a server
    that needs a key of its own gets it from its `env` table)."""
    from codive_cli.policy.credentials import scrubbed_environment

    return scrubbed_environment(os.environ)
