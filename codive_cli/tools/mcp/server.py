"""One MCP server's connection: a stdio child process or a streamable-HTTP endpoint, held
by a task of its own, and why it failed when it did."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import anyio
    import mcp_types
    from mcp import ClientSession
    from mcp.client import IncomingMessage
    from mcp.client._transport import TransportStreams

    from codive_cli.policy.sandbox import Sandbox
    from codive_cli.settings.schema import McpServerSettings

_STDERR_TAIL = 600


class Server:
    """One configured server: the task that holds its connection, and its session."""

    def __init__(
        self, name: str, settings: McpServerSettings, sandbox: Sandbox | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.sandbox = sandbox  # for stdio servers
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

        try:
            with anyio.CancelScope() as self._scope:
                async with contextlib.AsyncExitStack() as inner:
                    session = await self._open(inner)
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

    async def _open(self, inner: contextlib.AsyncExitStack) -> ClientSession:
        """Connect and initialize a session, closed with `inner`."""
        import mcp_types
        from mcp import ClientSession

        from codive_cli import __version__

        read, write = await self._connect(inner)
        session = await inner.enter_async_context(
            ClientSession(
                read,
                write,
                read_timeout_seconds=self.settings.timeout,
                message_handler=self._on_message,
                client_info=mcp_types.Implementation(name="codive", version=__version__),
            )
        )
        await session.initialize()
        return session

    async def _on_message(self, message: IncomingMessage) -> None:
        """Remember transport faults: they explain a server that does not answer."""
        if isinstance(message, Exception):
            self._fault = _fault(message)

    async def _connect(self, inner: contextlib.AsyncExitStack) -> TransportStreams:
        if self.settings.command:
            return await self._connect_stdio(inner, self.settings.command)
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        settings = self.settings
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

    async def _connect_stdio(
        self, inner: contextlib.AsyncExitStack, command: str
    ) -> TransportStreams:
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        settings = self.settings
        # The server's stderr goes to a file, not over codive's screen; its tail
        # explains a server that fails. _hold closes it once the server has stopped.
        self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        argv = [command, *settings.args]
        if settings.sandbox and self.sandbox is not None and self.sandbox.available:
            argv = self.sandbox.wrap(argv, "accept-edits")  # the workspace-write policy
        parameters = StdioServerParameters(
            command=argv[0], args=argv[1:], env={**_environment(), **settings.env}
        )
        return await inner.enter_async_context(stdio_client(parameters, errlog=self._errlog))

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


def describe(error: BaseException) -> str:
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
        return describe(error)
    import httpx2
    import mcp_types

    if isinstance(error, httpx2.TransportError):
        return f"could not connect to {settings.url}: {error}"
    if isinstance(error, MCPError) and error.code != mcp_types.CONNECTION_CLOSED:
        return f"{error.message} (from {settings.url})"
    return f"{describe(error)} ({settings.url})"


def _fault(error: Exception) -> str:
    import pydantic

    if isinstance(error, pydantic.ValidationError):
        seen = error.errors()[0].get("input") if error.error_count() else None
        if isinstance(seen, str):
            return f"it wrote what is not JSON-RPC on stdout: {seen[:80]!r}"
        return "it sent a message that is not valid MCP"
    return describe(error)


def _environment() -> dict[str, str]:
    """The environment for a stdio server, without any credential codive knows (a server
    that needs a key of its own gets it from its `env` table)."""
    from codive_cli.policy.credentials import scrubbed_environment

    return scrubbed_environment(os.environ)
