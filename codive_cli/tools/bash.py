"""The `bash` tool: one command in the workspace, bounded in time and output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any, ClassVar

from codive_cli.tools.base import MAX_RESULT_CHARS, Tool, ToolContext, ToolError, ToolResult

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 600.0
# Variables that hold the person's model-provider credentials: commands the model runs
# have no business reading them.
CREDENTIAL_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "CODIVE_PROVIDER__API_KEY")


class Output:
    """Combined stdout/stderr kept within bounds: the head and the most recent tail."""

    def __init__(self, limit: int = MAX_RESULT_CHARS) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.limit = limit

    def add(self, data: bytes) -> None:
        room = self.limit // 2 - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        excess = len(self.tail) - self.limit // 2
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped} bytes of output omitted ...]\n{tail}"
        return head + tail


class BashTool(Tool):
    name: ClassVar[str] = "bash"
    kind = "execute"
    description: ClassVar[str] = (
        "Run a shell command with bash in the workspace root and return its exit code and "
        "combined stdout/stderr. Use it to build, run tests, use git, and inspect the system. "
        "There is no terminal and no input: commands that wait for input or open an editor "
        "fail, so pass flags such as --yes / --no-edit / -y. Each call starts a fresh shell "
        "in the workspace root (cd does not carry over; chain with &&). Output is capped at "
        f"{MAX_RESULT_CHARS} characters (head and tail kept). The command is killed, with "
        f"everything it started, after `timeout` seconds (default {DEFAULT_TIMEOUT:.0f}, "
        f"at most {MAX_TIMEOUT:.0f}). Prefer read_file, grep and glob for reading and "
        "searching files."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line to run."},
            "timeout": {
                "type": "number",
                "description": f"Seconds before the command is killed (max {MAX_TIMEOUT:.0f}).",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    def paths(self, arguments: dict[str, Any]) -> list[str]:
        return []

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        command = arguments.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("`command` must be a non-empty string")
        timeout = _timeout(arguments.get("timeout"))
        output = Output()
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            cwd=context.root,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group, so all of it can be killed
            env=_environment(),
        )
        context.progress = output  # the loop reads partial output if we are interrupted
        try:
            await asyncio.wait_for(_pump(process, output), timeout)
            code = await process.wait()
        except TimeoutError:
            await _kill_group(process)
            text = output.text()
            return ToolResult(
                f"{text}\n[killed after {timeout:g} s: the command did not finish]",
                is_error=True,
                metadata={"exit_code": None, "timed_out": True},
            )
        except BaseException:
            await _kill_group(process)  # interrupted: leave nothing running
            raise
        text = output.text()
        body = f"{text}\n[exit code {code}]" if text else f"[exit code {code}, no output]"
        return ToolResult(body, is_error=code != 0, metadata={"exit_code": code})


def _timeout(value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ToolError("`timeout` must be a positive number of seconds")
    return min(float(value), MAX_TIMEOUT)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    env.update(
        PAGER="cat",
        GIT_PAGER="cat",
        GIT_TERMINAL_PROMPT="0",
        GIT_EDITOR="true",
        EDITOR="true",
        TERM="dumb",
        NO_COLOR="1",
    )
    return env


async def _pump(process: asyncio.subprocess.Process, output: Output) -> None:
    assert process.stdout is not None
    while chunk := await process.stdout.read(65536):
        output.add(chunk)


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the whole group, then SIGKILL what is left after a grace period."""
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), grace)
            break
        except TimeoutError:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers that left the leader behind
