"""An MCP server's tool as a codive tool: its name, its schema, and its results as text."""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any, ClassVar

from codive_cli.tools.base import Tool, ToolContext, ToolError, ToolKind, ToolResult, truncate
from codive_cli.tools.mcp.server import Server, describe

if TYPE_CHECKING:
    import mcp_types

# Tool names the model APIs accept: ^[A-Za-z0-9_-]{1,64}$.
NAME_LIMIT = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
# Extra seconds a call may take beyond the server's timeout before codive stops waiting
# itself (the SDK's own timeout, which also cancels the call on the server, comes first).
_CALL_GRACE = 5.0


def tool_name(server: str, tool: str) -> str:
    """`mcp__{server}__{tool}` with every other character than [A-Za-z0-9_-] as `_`; a name
    longer than 64 characters is cut and ends in a hash of the original, to stay unique."""
    name = _UNSAFE.sub("_", f"mcp__{server}__{tool}")
    if len(name) > NAME_LIMIT:
        name = hashed(name, server, tool)
    return name


def hashed(name: str, server: str, tool: str) -> str:
    """`name` cut to leave room for a hash of the server and tool names."""
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
    return f"{name[: NAME_LIMIT - 9]}_{digest}"


class McpTool(Tool):
    """One tool of an MCP server. Calls run on the server, so they ask like bash does."""

    kind: ClassVar[ToolKind] = "execute"

    def __init__(self, server: Server, remote: mcp_types.Tool, name: str) -> None:
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

        server = self._server
        session = server.session
        if session is None:
            raise ToolError(f"mcp server {server.name} is not running{server.why()}")
        timeout = server.settings.timeout
        try:
            with anyio.fail_after(timeout + _CALL_GRACE):
                result = await session.call_tool(
                    self.remote, arguments, read_timeout_seconds=timeout
                )
        except Exception as error:  # the SDK's or the transport's: the model sees a message
            raise self._failure(error) from None
        text = result_text(result)
        if result.is_error and not text:
            text = f"{self.remote} failed without a message"
        return ToolResult(
            truncate(text),
            is_error=result.is_error,
            metadata={"mcp_server": server.name, "mcp_tool": self.remote},
        )

    def _failure(self, error: Exception) -> ToolError:
        """What the model hears about a call that failed on the way."""
        import mcp_types
        from mcp import MCPError

        server = self._server
        timed_out = ToolError(
            f"mcp server {server.name}: {self.remote} did not answer within "
            f"{server.settings.timeout:g}s (timed out; the call was cancelled)"
        )
        if isinstance(error, TimeoutError):
            return timed_out
        if not isinstance(error, MCPError):
            return ToolError(f"mcp server {server.name}: {self.remote}: {describe(error)}")
        if error.code == mcp_types.REQUEST_TIMEOUT:
            return timed_out
        if error.code == mcp_types.CONNECTION_CLOSED:
            return ToolError(f"mcp server {server.name} closed the connection{server.why()}")
        return ToolError(f"mcp server {server.name}: {self.remote}: {error.message}")


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
