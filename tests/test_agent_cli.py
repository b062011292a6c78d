"""`codive complete` as a process doing agent work against the scripted server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import isolated_env
from tests.scripted_server import ScriptedServer

CODIVE = str(Path(sys.executable).parent / "codive")


def workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    (work / "calc.py").write_bytes(b"def f():\r\n\treturn 1\r\n")
    env = isolated_env(
        tmp_path, ANTHROPIC_API_KEY="test-key", OPENAI_API_KEY="test-key", NO_COLOR="1"
    )
    return work, env


def run(server: ScriptedServer, fmt: str, work: Path, env: dict[str, str], *args: str) -> Any:
    base = server.base_url + ("/v1" if fmt == "openai" else "")
    return subprocess.run(
        [CODIVE, "complete", "-p", fmt, "--base-url", base, *args],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


EDIT_SCRIPT: list[dict[str, Any]] = [
    {
        "text": "Reading it.",
        "tool_calls": [{"id": "c1", "name": "read_file", "arguments": {"path": "calc.py"}}],
    },
    {
        "tool_calls": [
            {
                "id": "c2",
                "name": "edit_file",
                "arguments": {
                    "path": "calc.py",
                    "old_string": "    return 1",
                    "new_string": "    return 2",
                },
            },
            {"id": "c3", "name": "grep", "arguments": {"pattern": "return"}},
        ]
    },
    {
        "tool_calls": [
            {
                "id": "c4",
                "name": "bash",
                "arguments": {"command": "python3 -c 'import calc; print(calc.f() * 21)'"},
            }
        ]
    },
    {"text": "Done: f returns 2."},
]


def tool_results(request: dict[str, Any], fmt: str) -> list[tuple[str, str, bool]]:
    """(call id, content, is_error) of the tool results the last message carried."""
    messages = request["json"]["messages"]
    if fmt == "anthropic":
        blocks = messages[-1]["content"]
        return [
            (b["tool_use_id"], b["content"], b.get("is_error", False))
            for b in blocks
            if b["type"] == "tool_result"
        ]
    out: list[tuple[str, str, bool]] = []
    for message in reversed(messages):
        if message["role"] != "tool":
            break
        out.insert(
            0, (message["tool_call_id"], message["content"], message["content"].startswith("Error"))
        )
    return out


@pytest.mark.parametrize("fmt", ["anthropic", "openai"])
def test_reads_edits_and_runs_in_both_wire_formats(tmp_path: Path, fmt: str) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer(EDIT_SCRIPT) as server:
        result = run(server, fmt, work, env, "-y", "--json", "make f return 2")
        requests = server.model_requests
    assert result.returncode == 0, result.stderr
    # the edit matched despite tabs vs spaces, and kept the file's tab and CRLF
    assert (work / "calc.py").read_bytes() == b"def f():\r\n\treturn 2\r\n"
    out = json.loads(result.stdout)
    assert out["content"] == "Done: f returns 2."
    assert [c["name"] for c in out["tool_calls"]] == ["read_file", "edit_file", "grep", "bash"]
    assert not any(c["is_error"] for c in out["tool_calls"]), out["tool_calls"]
    assert len(requests) == 4
    tools = requests[0]["json"]["tools"]
    names = [t["name"] if fmt == "anthropic" else t["function"]["name"] for t in tools]
    assert names == ["read_file", "write_file", "edit_file", "list_dir", "glob", "grep", "bash"]
    [(call_id, content, error)] = tool_results(requests[1], fmt)
    assert call_id == "c1" and "return 1" in content and not error
    second = tool_results(requests[2], fmt)
    assert [r[0] for r in second] == ["c2", "c3"]
    assert "calc.py:2:" in second[1][1]
    [(call_id, content, error)] = tool_results(requests[3], fmt)
    assert call_id == "c4" and "42" in content and "exit code 0" in content


@pytest.mark.parametrize("fmt", ["anthropic", "openai"])
def test_read_only_mode_refuses_the_edit_and_tells_the_model(tmp_path: Path, fmt: str) -> None:
    work, env = workspace(tmp_path)
    script = [EDIT_SCRIPT[1], {"text": "I could not edit it."}]
    with ScriptedServer(script) as server:
        result = run(server, fmt, work, env, "--permission-mode", "read-only", "edit it")
        requests = server.model_requests
    assert result.returncode == 0, result.stderr
    assert result.stdout == "I could not edit it.\n"
    assert (work / "calc.py").read_bytes() == b"def f():\r\n\treturn 1\r\n"
    refused, searched = tool_results(requests[1], fmt)
    assert "permission denied" in refused[1] and (fmt == "openai" or refused[2])
    assert "calc.py:2:" in searched[1]
    assert "tool edit_file(calc.py): error" in result.stderr


def test_no_terminal_means_edits_are_denied_in_ask_mode(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer([EDIT_SCRIPT[1], {"text": "ok"}]) as server:
        result = run(server, "anthropic", work, env, "edit it")
        requests = server.model_requests
    assert result.returncode == 0
    refused, _ = tool_results(requests[1], "anthropic")
    assert "no terminal to ask" in refused[1]


def test_max_steps_stops_cleanly(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    loop = {"tool_calls": [{"id": "x", "name": "list_dir", "arguments": {}}]}
    with ScriptedServer([loop, loop, loop]) as server:
        result = run(server, "anthropic", work, env, "--max-steps", "2", "--json", "loop")
        assert len(server.model_requests) == 2
    assert result.returncode == 0
    out = json.loads(result.stdout)
    assert out["stopped_by"] == "max_steps" and len(out["tool_calls"]) == 2
    assert "stopped after 2 model calls" in result.stderr


def test_outside_paths_are_refused_in_full_mode(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    (tmp_path / "secret.txt").write_text("top secret")
    script: list[dict[str, Any]] = [
        {
            "tool_calls": [
                {"id": "a", "name": "read_file", "arguments": {"path": "../secret.txt"}},
                {
                    "id": "b",
                    "name": "read_file",
                    "arguments": {"path": str(tmp_path / "secret.txt")},
                },
            ]
        },
        {"text": "ok"},
    ]
    with ScriptedServer(script) as server:
        result = run(server, "anthropic", work, env, "-y", "read it")
        first, second = tool_results(server.model_requests[1], "anthropic")
    assert result.returncode == 0
    for call in (first, second):
        assert call[2] and "outside the workspace" in call[1] and "top secret" not in call[1]


def test_project_instructions_join_the_system_prompt(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    (work / "AGENTS.md").write_text("Always run `make lint` after edits.")
    with ScriptedServer([{"text": "ok"}]) as server:
        run(server, "anthropic", work, env, "hi")
        system = server.model_requests[0]["json"]["system"]
    assert "Always run `make lint` after edits." in system
    assert "read_file" in system


def test_no_tools_sends_no_tool_definitions(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer([{"text": "ok"}]) as server:
        result = run(server, "openai", work, env, "--no-tools", "hi")
        body = server.model_requests[0]["json"]
    assert result.returncode == 0 and "tools" not in body


def test_stream_json_lines_follow_the_run_and_end_with_the_json_result(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    script = EDIT_SCRIPT[:1] + EDIT_SCRIPT[3:]
    with ScriptedServer(script + script) as server:
        streamed = run(server, "anthropic", work, env, "--output-format", "stream-json", "go")
        whole = run(server, "anthropic", work, env, "--json", "go")
    assert streamed.returncode == 0, streamed.stderr
    records = [json.loads(line) for line in streamed.stdout.splitlines()]
    kinds = [r["type"] for r in records]
    assert kinds[-1] == "result"
    compact = [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]
    assert compact == [
        "session",
        "text",
        "usage",
        "tool_call",
        "tool_result",
        "text",
        "usage",
        "result",
    ]
    assert "".join(r.get("text", "") for r in records[: kinds.index("usage")]) == "Reading it."
    call = records[kinds.index("tool_call")]
    assert (call["name"], call["arguments"]) == ("read_file", {"path": "calc.py"})
    result, alone = records[-1], json.loads(whole.stdout)
    del result["type"]
    assert result["session_id"] == records[0]["session_id"] != alone["session_id"]  # 2 runs
    del result["session_id"], alone["session_id"]
    assert result == alone


def test_max_cost_stops_before_the_call_that_would_pass_it(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    costly = {"input_tokens": 1_000_000, "output_tokens": 0}  # $3 on Claude Sonnet 4
    loop = {"tool_calls": [{"id": "x", "name": "list_dir", "arguments": {}}], "usage": costly}
    with ScriptedServer([loop, loop, loop]) as server:
        result = run(
            server,
            "anthropic",
            work,
            env,
            "-m",
            "claude-sonnet-4-20250514",
            "--max-cost",
            "5",
            "--json",
            "loop",
        )
        assert len(server.model_requests) == 1
    out = json.loads(result.stdout)
    assert result.returncode == 0 and out["stopped_by"] == "max_cost"
    assert "would pass --max-cost" in result.stderr
    assert out["cost_usd"] == pytest.approx(3.0)  # one call of 1M input tokens at $3/M


def test_max_cost_with_an_unpriced_model_says_it_cannot_cap(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer([{"text": "ok"}]) as server:
        result = run(
            server,
            "anthropic",
            work,
            env,
            "-m",
            "my-proxy-model",
            "--max-cost",
            "1",
            "--json",
            "hi",
        )
    assert result.returncode == 0
    assert "cannot cap it" in result.stderr
    assert json.loads(result.stdout)["cost_usd"] is None  # unpriced, not $0


def test_grep_leaves_secret_files_out_unless_full(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    (work / ".env").write_text("API_TOKEN=hunter2-very-secret\n")
    (work / "settings.py").write_text("API_TOKEN = os.environ['API_TOKEN']\n")
    grep = {"tool_calls": [{"id": "g", "name": "grep", "arguments": {"pattern": "API_TOKEN"}}]}
    with ScriptedServer([grep, {"text": "ok"}, grep, {"text": "ok"}]) as server:
        run(server, "anthropic", work, env, "--permission-mode", "accept-edits", "find it")
        run(server, "anthropic", work, env, "-y", "find it")
        [(_, guarded, _)] = tool_results(server.model_requests[1], "anthropic")
        [(_, full, _)] = tool_results(server.model_requests[3], "anthropic")
    assert "hunter2" not in guarded and "settings.py:1:" in guarded and ".env" in guarded
    assert "hunter2" in full


def test_mcp_tools_join_the_built_in_ones_when_the_config_is_the_persons(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    server = Path(__file__).parent / "mcp_demo_server.py"
    config = tmp_path / "mine.toml"
    config.write_text(
        f"[mcp.servers.demo]\ncommand = {json.dumps(sys.executable)}\n"
        f'args = [{json.dumps(str(server))}]\n\n[agent]\nallow = ["mcp__demo__add"]\n'
    )
    env["CODIVE_CONFIG"] = str(config)
    call = {"tool_calls": [{"id": "m", "name": "mcp__demo__add", "arguments": {"a": 2, "b": 3}}]}
    with ScriptedServer([call, {"text": "five"}]) as scripted:
        result = run(scripted, "anthropic", work, env, "--json", "add")
        names = [t["name"] for t in scripted.model_requests[0]["json"]["tools"]]
        [(_, content, error)] = tool_results(scripted.model_requests[1], "anthropic")
    assert result.returncode == 0, result.stderr
    assert "mcp__demo__add" in names and "read_file" in names
    assert content == "5" and not error


def test_untrusted_project_file_starts_no_mcp_server(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    marker = tmp_path / "started"
    (work / "codive.toml").write_text(
        f'[mcp.servers.evil]\ncommand = "sh"\nargs = ["-c", "touch {marker}"]\n'
    )
    with ScriptedServer([{"text": "ok"}]) as scripted:
        result = run(scripted, "anthropic", work, env, "hi")
        names = [t["name"] for t in scripted.model_requests[0]["json"]["tools"]]
    assert result.returncode == 0, result.stderr
    assert not marker.exists() and not any(n.startswith("mcp__") for n in names)
    assert "not trusted" in result.stderr and "mcp" in result.stderr


def test_runs_chain_with_resume_and_continue(tmp_path: Path) -> None:
    """Each complete run is a session: --json and stream-json name it, and the next run can
    go on with it (--resume ID, or --continue for the latest here)."""
    work, env = workspace(tmp_path)
    replies = [
        {"text": "The answer is 42."},
        {"text": "You asked for the answer."},
        {"text": "Bye."},
    ]
    with ScriptedServer(replies) as server:
        first = run(server, "anthropic", work, env, "--json", "what is the answer?")
        session_id = json.loads(first.stdout)["session_id"]
        second = run(
            server,
            "anthropic",
            work,
            env,
            "--resume",
            session_id,
            "--output-format",
            "stream-json",
            "what did I ask?",
        )
        third = run(server, "anthropic", work, env, "--continue", "--json", "thanks")
        requests = server.model_requests
    lines = [json.loads(line) for line in second.stdout.splitlines()]
    assert lines[0] == {"type": "session", "session_id": session_id}
    assert lines[-1]["type"] == "result" and lines[-1]["session_id"] == session_id
    asked = [m["content"] for m in requests[1]["json"]["messages"] if m["role"] == "user"]
    assert str(asked[0]).count("what is the answer?") == 1 and "what did I ask?" in str(asked[-1])
    assert "You asked for the answer." in str(requests[2]["json"]["messages"])
    assert json.loads(third.stdout)["session_id"] == session_id


def test_resume_of_an_unknown_session_is_a_usage_error(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    with ScriptedServer([]) as server:
        result = run(server, "anthropic", work, env, "--resume", "nope", "hi")
        both = run(server, "anthropic", work, env, "--resume", "x", "--continue", "hi")
    assert result.returncode == 2 and "no saved session 'nope'" in result.stderr
    assert both.returncode == 2 and "exclude each other" in both.stderr


def test_a_run_where_sessions_cannot_be_written_goes_on_unsaved(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the data folder's parent is a file: nothing can be created
    env["XDG_DATA_HOME"] = str(blocked)
    with ScriptedServer([{"text": "Still answered."}]) as server:
        result = run(server, "anthropic", work, env, "--json", "hi")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["content"] == "Still answered." and out["session_id"] is None
    assert "not saved as a session" in result.stderr


def test_a_long_complete_run_compacts_and_its_session_says_so(tmp_path: Path) -> None:
    """A model with no known window: the assumed one (here 4,000 tokens) is nearly full after
    the third step, so the run summarises its older steps and goes on; stream-json says so,
    and the saved session holds the compacted conversation (`--continue` sends it)."""
    work, env = workspace(tmp_path)
    env["CODIVE_AGENT__ASSUMED_CONTEXT_WINDOW"] = "4000"
    read = {"name": "read_file", "arguments": {"path": "calc.py"}}
    script: list[dict[str, Any]] = [
        {"tool_calls": [{**read, "id": "c1"}], "usage": {"input_tokens": 100}},
        {"tool_calls": [{**read, "id": "c2"}], "usage": {"input_tokens": 200}},
        {"tool_calls": [{**read, "id": "c3"}], "usage": {"input_tokens": 3500}},
        {"text": "Read calc.py three times."},  # the summary
        {"text": "It returns 1."},
        {"text": "Still 1."},  # the --continue run's answer
    ]
    with ScriptedServer(script) as server:
        args = ["-m", "unknown-model", "-y", "--output-format", "stream-json", "what is f?"]
        done = run(server, "openai", work, env, *args)
        again = run(server, "openai", work, env, "-m", "unknown-model", "--continue", "and now?")
        requests = server.model_requests
    assert done.returncode == 0 and again.returncode == 0, done.stderr + again.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    compacted = [r for r in records if r["type"] == "compacted"]
    assert compacted == [{"type": "compacted", "summary": compacted[0]["summary"], "kept": 4}]
    assert compacted[0]["summary"].startswith("Read calc.py three times.")
    assert compacted[0]["summary"].endswith("what is f?")  # the request, word for word
    assert records[-1]["type"] == "result" and records[-1]["content"] == "It returns 1."
    after = requests[4]["json"]["messages"]
    assert [m["role"] for m in after] == ["system", "user", *["assistant", "tool"] * 2]
    assert [m["tool_calls"][0]["id"] for m in after[2::2]] == ["c2", "c3"]
    resumed = requests[5]["json"]["messages"]
    assert resumed[: len(after)] == after  # what the session kept is what the run had
    assert resumed[-1] == {"role": "user", "content": "and now?"}
