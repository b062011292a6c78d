"""However codive is stopped, the command a tool is running stops with it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.scripted_server import ScriptedServer
from tests.test_agent_cli import CODIVE, workspace
from tests.test_bash_tool import alive

# A command that runs until it is killed, its pid written where the test can find it.
LONG = {"command": "sleep 300 & echo $! > sleep.pid; wait"}
SCRIPT: list[dict[str, Any]] = [
    {"tool_calls": [{"id": "b", "name": "bash", "arguments": LONG}]},
    {"text": "-"},
]
STATUS = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}


def started_job(work: Path, running: Callable[[], bool]) -> int:
    """The pid of the tool's `sleep`, once it runs (pytest-timeout bounds the wait)."""
    pid_file = work / "sleep.pid"
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert running(), "codive ended before the command started"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert alive(pid)
    return pid


def wait_dead(pid: int) -> None:
    while alive(pid):
        time.sleep(0.05)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_complete_stops_the_running_command_when_signalled(tmp_path: Path, name: str) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer(SCRIPT) as server:
        command = [CODIVE, "complete", "-p", "anthropic", "--base-url", server.base_url, "-y"]
        with subprocess.Popen(
            [*command, "run it"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=work,
            env=env,
        ) as codive:
            job = started_job(work, lambda: codive.poll() is None)
            codive.send_signal(getattr(signal, name))
            _, stderr = codive.communicate()
        wait_dead(job)
    assert codive.returncode == STATUS[name], stderr
    assert "Traceback" not in stderr
    assert ("interrupted" if name == "SIGINT" else f"terminated ({name})") in stderr


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_chat_stops_the_running_command_and_keeps_the_session(tmp_path: Path, name: str) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer(SCRIPT) as server:
        command = [CODIVE, "chat", "-p", "anthropic", "--base-url", server.base_url]
        with subprocess.Popen(
            [*command, "--permission-mode", "full"],
            stdin=subprocess.PIPE,  # left open: chat waits for more input after the turn
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=work,
            env=env,
        ) as codive:
            assert codive.stdin is not None
            codive.stdin.write("run it\n")
            codive.stdin.flush()
            job = started_job(work, lambda: codive.poll() is None)
            codive.send_signal(getattr(signal, name))
            _, stderr = codive.communicate()
        wait_dead(job)
    assert codive.returncode == STATUS[name], stderr
    assert "Traceback" not in stderr and f"terminated ({name})" in stderr
    [saved] = (tmp_path / "xdg_data_home" / "codive" / "sessions").glob("*.jsonl")
    records = [json.loads(line) for line in saved.read_text().splitlines()]
    [result] = [r["message"] for r in records if r.get("message", {}).get("role") == "tool"]
    assert result["tool_call_id"] == "b" and result["is_error"]
    assert "interrupted" in result["content"]


def test_chat_waiting_for_input_ends_on_sigterm(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer([{"text": "hello"}]) as server:
        command = [CODIVE, "chat", "-p", "anthropic", "--base-url", server.base_url]
        with subprocess.Popen(
            command,
            stdin=subprocess.PIPE,  # open and silent: chat sits waiting for the next line
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=work,
            env=env,
        ) as codive:
            assert codive.stdin is not None and codive.stdout is not None
            codive.stdin.write("hi\n")
            codive.stdin.flush()
            assert codive.stdout.readline() == "hello\n"
            codive.send_signal(signal.SIGTERM)
            _, stderr = codive.communicate()
    assert codive.returncode == 143, stderr
