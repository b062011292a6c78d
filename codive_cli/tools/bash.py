"""The `bash` tool: one command in the workspace, bounded in time and output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any, ClassVar

from codive_cli.policy.credentials import scrubbed_environment
from codive_cli.policy.sandbox import SANDBOX_DENIED_HINT, Sandbox, Watch, sandbox_denied
from codive_cli.tools.base import (
    MAX_RESULT_CHARS,
    Tool,
    ToolContext,
    ToolError,
    ToolResult,
    describe_from,
    optional,
)

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 600.0
OUTPUT_GRACE = 1.0  # seconds to collect what is left in the pipe once the command is done
STOP_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for what a command left behind
POLL_INTERVAL = 0.05
BACKGROUND_NOTE = (
    "background jobs are stopped when the command ends: the ones it left running were stopped"
)


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
    description: ClassVar[str] = describe_from(
        __package__,
        "bash.md",
        MAX_RESULT_CHARS=MAX_RESULT_CHARS,
        DEFAULT_TIMEOUT=f"{DEFAULT_TIMEOUT:.0f}",
        MAX_TIMEOUT=f"{MAX_TIMEOUT:.0f}",
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line to run."},
            "timeout": {
                "type": "number",
                "description": f"Seconds before the command is killed (max {MAX_TIMEOUT:.0f}).",
            },
            "unsandboxed": {
                "type": "boolean",
                "description": "Run outside the OS sandbox. Only when the command failed "
                "because of the sandbox and must write outside the workspace or use the "
                "network; the person is asked every time.",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    def paths(self, arguments: dict[str, Any]) -> list[str]:
        return []

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        command = optional(arguments, "command", str)
        if command is None or not command.strip():
            raise ToolError("`command` must be a non-empty string")
        timeout = _timeout(optional(arguments, "timeout", float))
        output = Output()
        context.progress = output  # the loop reads partial output if we are interrupted
        with _Guard(["bash", "-c", command], arguments, context) as guard:
            result = await _execute(guard, context, output, timeout)
        if guard.note:
            result.content += f"\n[{guard.note}]"
            result.metadata["protected_removed"] = True
        return result


async def _execute(
    guard: _Guard, context: ToolContext, output: Output, seconds: float
) -> ToolResult:
    """Run the guarded command to its end (or its timeout), and what it left running too."""
    async with _Shell(guard.argv, context.root, context.secrets, guard.pass_fds) as shell:
        guard.started()
        pump = asyncio.ensure_future(shell.pump(output))
        try:
            code = await asyncio.wait_for(shell.process.wait(), seconds)
        except TimeoutError:
            await _kill_group(shell.process)
            await _drain(pump)
            return ToolResult(
                f"{output.text()}\n[killed after {seconds:g} s: the command did not finish]",
                is_error=True,
                metadata={"exit_code": None, "timed_out": True},
            )
        except BaseException:
            await _kill_group(shell.process)  # interrupted: leave nothing running
            pump.cancel()
            raise
        # The shell is done; what it left running in the background goes with it, or
        # it would hold the output open (and the call) until the timeout.
        stopped = await _stop_leftovers(shell.process.pid)
        await _drain(pump)
    return _finished(output.text(), code, stopped=stopped, sandboxed=guard.sandboxed)


def _finished(text: str, code: int, *, stopped: bool, sandboxed: bool) -> ToolResult:
    """The result of a command that ended: its output, exit code, and notes on what
    happened around it."""
    body = f"{text}\n[exit code {code}]" if text else f"[exit code {code}, no output]"
    metadata: dict[str, Any] = {"exit_code": code}
    if stopped:
        body += f"\n[{BACKGROUND_NOTE}]"
        metadata["background_stopped"] = True
    if sandboxed and code != 0 and sandbox_denied(text):
        body += f"\n{SANDBOX_DENIED_HINT}"
        metadata["sandbox_denied"] = True
    if sandboxed:
        metadata["sandboxed"] = True
    return ToolResult(body, is_error=code != 0, metadata=metadata)


class _Shell:
    """`bash -c COMMAND` (in the sandbox, usually) in its own process group, stdout and
    stderr on one pipe we own.

    Owning the read end lets us close it when we stop listening, even while a process that
    left the group still holds the write end.
    """

    def __init__(
        self,
        argv: list[str],
        root: Path,
        secrets: tuple[str, ...] = (),
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.argv = argv
        self.root = root
        self.secrets = secrets
        self.pass_fds = pass_fds
        self.reader = asyncio.StreamReader()
        self.transport: asyncio.ReadTransport | None = None

    async def __aenter__(self) -> _Shell:
        read_fd, write_fd = os.pipe()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.root,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,  # its own process group, so all of it can be stopped
                env=environment(self.secrets),
                pass_fds=self.pass_fds,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        protocol = asyncio.StreamReaderProtocol(self.reader)
        loop = asyncio.get_running_loop()
        try:
            self.transport, _ = await loop.connect_read_pipe(lambda: protocol, pipe)
        except BaseException:
            pipe.close()
            await _kill_group(self.process)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.transport is not None:
            self.transport.close()

    async def pump(self, output: Output) -> None:
        while chunk := await self.reader.read(65536):
            output.add(chunk)


def _sandbox_for(arguments: dict[str, Any], context: ToolContext) -> Sandbox | None:
    """The sandbox the call runs in, or None when it runs outside. It runs inside always, in
    a sandboxed mode, unless the person approved `unsandboxed` (the policy asks for that
    every time)."""
    sandbox, policy = context.sandbox, context.policy
    if sandbox is None or policy is None or not sandbox.applies(policy.mode):
        return None
    if arguments.get("unsandboxed") is True:
        return None
    # With no sandbox to be had, the policy asked the person about every command.
    if not sandbox.available:
        return None
    return sandbox


class _Guard:
    """One command in the sandbox (or outside it): the argv to start, the pipe on which
    bubblewrap names the sandbox's init, and once the command and every process of its
    sandbox are gone, what it created among the protected paths, removed (`note`)."""

    def __init__(self, argv: list[str], arguments: dict[str, Any], context: ToolContext) -> None:
        self.sandbox = _sandbox_for(arguments, context)
        self.mode = context.policy.mode if context.policy is not None else "full"
        self.argv = argv
        self.pass_fds: tuple[int, ...] = ()
        self.note = ""
        self._watch: Watch | None = None
        self._info = -1

    @property
    def sandboxed(self) -> bool:
        return self._watch is not None

    def __enter__(self) -> _Guard:
        if self.sandbox is None:
            return self
        self._info, write = os.pipe()
        self.pass_fds = (write,)
        try:
            self._watch = self.sandbox.start(self.argv, self.mode, info_fd=write)
        except BaseException:
            self.__exit__()
            raise
        self.argv = self._watch.argv
        return self

    def started(self) -> None:
        """bubblewrap holds the pipe's write end now: ours goes, so a read sees its end."""
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = ()

    def __exit__(self, *exc_info: object) -> None:
        self.started()
        if self._info < 0:
            return
        try:
            _wait_for_init(self._info)
        finally:
            os.close(self._info)
        if self.sandbox is not None and self._watch is not None:
            self.note = self.sandbox.settle(self._watch)


def _wait_for_init(info: int, limit: float = 5.0) -> None:
    """Wait until the sandbox's init (named on `info`) is gone: it goes last, after the
    kernel killed every process of its PID namespace, so nothing there can still write."""
    os.set_blocking(info, False)
    try:
        pid = json.loads(os.read(info, 65536) or b"{}").get("child-pid")
    except (OSError, ValueError):
        return  # bubblewrap never started
    for _ in range(int(limit / 0.005)):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
        except OSError:
            return
        if fields[1].split()[0] in ("Z", "X") or not fields[0].endswith("(bwrap"):
            return
        time.sleep(0.005)


def _timeout(value: float | None) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if value <= 0:
        raise ToolError("`timeout` must be a positive number of seconds")
    return min(value, MAX_TIMEOUT)


def environment(secrets: tuple[str, ...] = ()) -> dict[str, str]:
    """What a command gets: this process's environment without any credential codive knows
    (by name, and any variable holding one of `secrets`), and no pager or editor."""
    env = {k: v for k, v in scrubbed_environment(os.environ).items() if v not in secrets}
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


async def _drain(pump: asyncio.Future[None]) -> None:
    """Let the output that is on its way arrive, then stop reading."""
    try:
        await asyncio.wait_for(asyncio.shield(pump), OUTPUT_GRACE)
    except TimeoutError:  # a process outside the group still holds the pipe open
        pump.cancel()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies do not count: no reaper may come)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state ppid pgrp ...
        if fields[0] != "Z" and fields[2] == str(pgid):
            return True
    return False


async def _stop_leftovers(pgid: int) -> bool:
    """Stop what the finished shell left running in its group; True if there was any."""
    if not _group_alive(pgid):
        return False
    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 0.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        for _ in range(int(grace / POLL_INTERVAL)):
            await asyncio.sleep(POLL_INTERVAL)
            if not _group_alive(pgid):
                return True
    return True


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
