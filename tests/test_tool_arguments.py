"""Tool arguments no program should choke on: a lone surrogate, nesting 200,000 deep.

Each is a failed call the model hears about; the run goes on, `--json` and stream-json stay
valid JSON, and the session is written.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from codive_cli.provider import parse_tool_call
from tests.scripted_server import ScriptedServer
from tests.test_agent_cli import CODIVE, run, tool_results, workspace

# What a model sends: JSON text whose string escape stands for half a UTF-16 pair.
SURROGATE = '{"command": "echo \\ud800"}'
DEEP = '{"a":' + "[" * 200_000 + "]" * 200_000 + "}"
FULL = ("--permission-mode", "full")
HOSTILE = {"surrogate": (SURROGATE, "lone surrogate"), "deep": (DEEP, "nested too deeply")}


def script(arguments: str) -> list[dict[str, Any]]:
    call = {"id": "h", "name": "bash", "arguments": arguments}
    return [{"tool_calls": [call]}, {"text": "the call failed, moving on"}]


@pytest.mark.parametrize("fmt", ["anthropic", "openai"])
@pytest.mark.parametrize("kind", ["surrogate", "deep"])
def test_json_output_reports_a_failed_call_and_goes_on(tmp_path: Path, fmt: str, kind: str) -> None:
    arguments, problem = HOSTILE[kind]
    work, env = workspace(tmp_path)
    with ScriptedServer(script(arguments)) as server:
        result = run(server, fmt, work, env, "-y", "--json", "go")
        [(call_id, content, is_error)] = tool_results(server.model_requests[1], fmt)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["content"] == "the call failed, moving on"
    [call] = out["tool_calls"]
    assert call["is_error"] and problem in call["result"] and call["arguments"] == {}
    assert call_id == "h" and problem in content and (fmt == "openai" or is_error)
    assert len(content) < 1000  # the arguments are quoted, not pasted whole


@pytest.mark.parametrize("kind", ["surrogate", "deep"])
def test_stream_json_lines_stay_json(tmp_path: Path, kind: str) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer(script(HOSTILE[kind][0])) as server:
        result = run(server, "openai", work, env, "-y", "--output-format", "stream-json", "go")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    [failed] = [r for r in records if r["type"] == "tool_result"]
    assert failed["is_error"] and HOSTILE[kind][1] in failed["result"]
    assert records[-1]["type"] == "result"


@pytest.mark.parametrize("kind", ["surrogate", "deep"])
def test_chat_keeps_going_and_writes_the_session(tmp_path: Path, kind: str) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer(script(HOSTILE[kind][0])) as server:
        result = subprocess.run(
            [CODIVE, "chat", "-p", "anthropic", "--base-url", server.base_url, *FULL],
            input="go\n",
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("the call failed, moving on\n")
    [saved] = (tmp_path / "xdg_data_home" / "codive" / "sessions").glob("*.jsonl")
    records = [json.loads(line) for line in saved.read_bytes().decode("utf-8").splitlines()]
    messages = [r["message"] for r in records if r["type"] == "message"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert messages[3]["is_error"] and HOSTILE[kind][1] in messages[3]["content"]


def test_a_lone_surrogate_anywhere_in_the_arguments_is_refused() -> None:
    for raw in (SURROGATE, '{"\\udc80": 1}', '{"a": ["ok", {"b": "\\udfff"}]}'):
        call = parse_tool_call("c", "bash", raw)
        assert call.arguments == {} and "lone surrogate" in (call.arguments_error or "")
    pair = parse_tool_call("c", "bash", '{"command": "echo \\ud83d\\ude00"}')
    assert pair.arguments == {"command": "echo 😀"} and pair.arguments_error is None


def test_nesting_is_bounded_below_what_python_can_encode_again() -> None:
    shallow = parse_tool_call("c", "t", '{"a":' + "[" * 50 + "]" * 50 + "}")
    assert shallow.arguments_error is None
    deep = parse_tool_call("c", "t", '{"a":' + "[" * 900 + "]" * 900 + "}")
    assert deep.arguments == {} and "nested too deeply" in (deep.arguments_error or "")


def test_json_lines_escape_what_utf_8_cannot_carry() -> None:
    from codive_cli.agent.codec import json_line

    record = {"text": "caf\u00e9 \ud800 end"}
    line = json_line(record)
    assert line.encode("utf-8") and json.loads(line) == record
    assert json_line({"text": "café"}) == '{"text": "café"}'  # readable when it can be
