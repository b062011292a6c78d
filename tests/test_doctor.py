"""`codive doctor` against the scripted server: each check with its verdict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.scripted_server import ScriptedServer

CODIVE = str(Path(sys.executable).parent / "codive")


def doctor(server: ScriptedServer, tmp_path: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODIVE_", "OPENAI_"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    (tmp_path / ".git").mkdir(exist_ok=True)
    return subprocess.run(
        [CODIVE, "doctor", "-p", "local_llm", "--base-url", server.base_url, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_healthy_server_passes_every_check(tmp_path: Path) -> None:
    call = {"tool_calls": [{"id": "t", "name": "get_time", "arguments": {}}]}
    models = [{"id": "qwen-coder", "max_model_len": 32768}]
    with ScriptedServer({"replies": [{"text": "ok"}, {"text": "ok"}, call], "models": models}) as s:
        result = doctor(s, tmp_path, "-m", "qwen-coder")
    assert result.returncode == 0, result.stdout + result.stderr
    for line in (
        "✓ reachable",
        "✓ model known: qwen-coder",
        "✓ context size: 32,768 tokens",
        "✓ streaming",
        "✓ tool calls",
    ):
        assert line in result.stdout


def test_small_context_and_no_tool_calls_are_reported_with_fixes(tmp_path: Path) -> None:
    models = [{"id": "tiny", "max_model_len": 4096}]
    replies = [{"text": "ok"}, {"text": "ok"}, {"text": "It is noon."}]
    with ScriptedServer({"replies": replies, "models": models}) as s:
        result = doctor(s, tmp_path)
    assert result.returncode == 1
    assert "✗ context size: 4,096 tokens" in result.stdout
    assert "✗ tool calls: the model answered in text" in result.stdout
    assert result.stdout.count("fix:") == 2


def test_unreachable_server_stops_early(tmp_path: Path) -> None:
    with ScriptedServer(
        [
            {
                "status": 503,
                "body": {"error": {"message": "Loading model", "type": "unavailable_error"}},
            }
        ]
        * 3
    ) as s:
        result = doctor(s, tmp_path, "-m", "x")
    assert result.returncode == 1
    assert "✗ reachable" in result.stdout and "streaming" not in result.stdout


def test_a_passing_check_prints_no_fix(tmp_path: Path) -> None:
    """Only a failing check says what to fix."""
    call = {"tool_calls": [{"id": "t", "name": "get_time", "arguments": {}}]}
    models = [{"id": "qwen-coder", "max_model_len": 32768}]
    replies = [{"text": "ok"}, {"text": "ok"}, call]
    with ScriptedServer({"replies": replies, "models": models}) as s:
        result = doctor(s, tmp_path, "-m", "my-finetune")
    lines = result.stdout.splitlines()
    assert any(line.startswith("✓ model known") for line in lines), result.stdout
    fixes = [i for i, line in enumerate(lines) if "fix:" in line]
    assert all(lines[i - 1].startswith("✗") for i in fixes), result.stdout
