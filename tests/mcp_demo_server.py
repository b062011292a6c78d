"""A small stdio MCP server for the tests: `python tests/mcp_demo_server.py`.

Tools: add(a, b), shout(text), fail(), slow(seconds), write(path).
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("demo", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """Return the text in upper case."""
    return text.upper()


@server.tool()
def fail() -> str:
    """Always fails."""
    # A ToolError's message reaches the client; any other exception would arrive as
    # only "Error executing tool fail".
    raise ToolError("fail always fails")


@server.tool()
def write(path: str) -> str:
    """Write a line to a file; say what happened (the sandbox tests use it)."""
    try:
        with open(path, "a") as handle:
            handle.write("written by the MCP server\n")
    except OSError as error:
        return f"refused: {error.strerror}"
    return "wrote"


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then say how long."""
    await anyio.sleep(seconds)
    return f"slept {seconds}s"


if __name__ == "__main__":
    server.run()
