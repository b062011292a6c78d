"""The bash tool's process lifetime: background jobs, timeouts, output bounds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.tools.base import MAX_RESULT_CHARS, ToolContext, ToolError
from codive_cli.tools.bash import BashTool
from tests.scripted_server import ScriptedServer
from tests.test_agent_cli import CODIVE, tool_results, workspace

# The command returns at once but leaves a job behind that holds the output pipe open. The
# timeout is far above pytest's, so waiting for it shows up as a hung test, not a slow one.
BACKGROUND = {"command": "sleep 300 & echo $! > job.pid; echo started", "timeout": 600}


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting to be reaped has stopped running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def context(tmp_path: Path) -> ToolContext:
    return ToolContext(tmp_path, guard=WorkspaceGuard(tmp_path))


async def test_a_background_job_neither_blocks_the_command_nor_outlives_it(
    tmp_path: Path,
) -> None:
    result = await BashTool().run(BACKGROUND, context(tmp_path))
    assert result.metadata == {"exit_code": 0, "background_stopped": True}
    assert not result.is_error
    assert result.content.startswith("started\n")
    assert "background jobs are stopped when the command ends" in result.content
    assert not alive(int((tmp_path / "job.pid").read_text()))


async def test_a_command_without_background_jobs_gets_no_note(tmp_path: Path) -> None:
    result = await BashTool().run({"command": "(echo inner) & wait; echo outer"}, context(tmp_path))
    assert result.content == "inner\nouter\n\n[exit code 0]"
    assert result.metadata == {"exit_code": 0}


async def test_a_process_that_left_the_group_does_not_hold_the_call(tmp_path: Path) -> None:
    command = (  # the pid file is written once the job has its own session
        "setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & "
        "until [ -s escaped.pid ]; do sleep 0.01; done; echo started"
    )
    result = await BashTool().run({"command": command}, context(tmp_path))
    escaped = int((tmp_path / "escaped.pid").read_text())
    try:
        assert result.content == "started\n\n[exit code 0]"
    finally:
        os.kill(escaped, signal.SIGKILL)  # its own session: out of the tool's reach


async def test_output_is_capped_head_and_tail(tmp_path: Path) -> None:
    command = "echo FIRST; head -c 200000 /dev/zero | tr '\\0' x; echo; echo LAST; exit 4"
    result = await BashTool().run({"command": command}, context(tmp_path))
    assert result.is_error and result.metadata["exit_code"] == 4
    assert result.content.startswith("FIRST\n") and result.content.endswith("LAST\n\n[exit code 4]")
    assert "bytes of output omitted" in result.content
    assert len(result.content) < MAX_RESULT_CHARS + 200


def test_complete_goes_on_after_a_command_that_leaves_a_job_running(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"id": "b", "name": "bash", "arguments": BACKGROUND}]},
        {"text": "done"},
    ]
    with ScriptedServer(script) as server:
        command = ["complete", "-p", "anthropic", "--base-url", server.base_url, "-y", "--json"]
        result = subprocess.run(
            [CODIVE, *command, "start it"],
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        [(_, content, is_error)] = tool_results(server.model_requests[1], "anthropic")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["content"] == "done"
    assert not is_error and "started" in content and "[exit code 0]" in content
    assert "background jobs are stopped when the command ends" in content
    assert not alive(int((work / "job.pid").read_text()))


async def test_timeout_must_be_a_positive_number(tmp_path: Path) -> None:
    for timeout, problem in ((0, "positive number"), ("5", "must be a number")):
        with pytest.raises(ToolError, match=problem):
            await BashTool().run({"command": "true", "timeout": timeout}, context(tmp_path))
    assert "(default 120, at most 600)" in BashTool.description
