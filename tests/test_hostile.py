"""codive run as a process against what someone outside controls: the model server, the
files in the workspace, and the standard streams it is started with (issue 12).

Each run is a real `codive` subprocess with a clean environment (see tests/test_cli.py),
against its own `ScriptedServer` on 127.0.0.1. Timeouts are configured small so a fixed
codive finishes quickly; a hang is left to pytest-timeout.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.scripted_server import Reply, ScriptedServer
from tests.test_cli import (
    TIMEOUT,
    Run,
    assert_error,
    clean_env,
    codive_executable,
    complete,
    hide_embedded,
    play,
    reply,
    run_codive,
    work_dir,
)

# Small limits, so that a stream that never ends is given up within a second or two.
FAST = {"CODIVE_PROVIDER__TIMEOUT": "1", "CODIVE_PROVIDER__MAX_RETRIES": "0"}


# --------------------------------------------------------------------------------------------
# A stream kept open by SSE comments
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_keepalive_comments_do_not_keep_a_dead_stream_alive(tmp_path: Path, wire: str) -> None:
    # The server answers, then sends `: ping` every 0.2 s and never ends the stream: bytes
    # keep coming, so only a timer that counts events (not bytes) can end it.
    case = complete(wire, "hi", replies=reply(text="partial answer", keepalive=0.2), env=FAST)
    run = play(case, tmp_path)
    assert_error(run, 1, "no event", hint=("stream_idle_timeout",))
    assert run.stdout == "partial answer\n", run.describe()


# --------------------------------------------------------------------------------------------
# Error bodies that echo a key
# --------------------------------------------------------------------------------------------

# Every kind of key codive knows, each a distinct value the server echoes back.
KEYS = {
    "MINE_VAR": "sk-mine-0123456789abcdef",  # api_key_env of the endpoint in use
    "OTHER_VAR": "sk-other-0123456789abcdef",  # api_key_env of another endpoint
    "OPENAI_API_KEY": "sk-openai-0123456789abcdef",
    "ANTHROPIC_API_KEY": "sk-ant-0123456789abcdef",
    "CODIVE_PROVIDER__API_KEY": "sk-codive-0123456789abcdef",
}
ENDPOINTS = """\
[providers.mine]
kind = "openai"
base_url = "{url}/v1"
api_key_env = "MINE_VAR"

[providers.other]
kind = "anthropic"
api_key_env = "OTHER_VAR"
"""
ECHO_401: dict[str, object] = {
    "status": 401,
    "body": {
        "error": {
            # ... and a terminal title escape, shown as text, never obeyed
            "message": "Incorrect API key provided: " + ", ".join(KEYS.values()) + "\x1b]0;x\x07",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    },
}


def run_against_echo(root: Path, args: list[str], stdin: str | None = None) -> Run:
    """`codive ARGS -p mine` with every key set, against a server whose 401 echoes them."""
    with ScriptedServer([ECHO_401]) as server:
        env = clean_env(root, KEYS)
        hide_embedded(root, env)  # doctor would otherwise start the local model
        user_file = root / "config" / "codive" / "codive.toml"
        user_file.parent.mkdir(parents=True)
        user_file.write_text(ENDPOINTS.replace("{url}", server.base_url), encoding="utf-8")
        done = run_codive([*args, "-p", "mine"], env=env, cwd=work_dir(root), stdin=stdin)
        return Run(args, done.returncode, done.stdout, done.stderr, server.requests)


ECHO_RUNS = {
    "complete": (["complete", "hi"], None),
    "complete_json": (["complete", "--json", "hi"], None),
    "complete_stream_json": (["complete", "--output-format", "stream-json", "hi"], None),
    "doctor": (["doctor"], None),
    "chat": (["chat"], "hi\n"),
}


@pytest.mark.parametrize("name", ECHO_RUNS)
def test_no_key_is_shown_from_an_error_body(tmp_path: Path, name: str) -> None:
    args, stdin = ECHO_RUNS[name]
    run = run_against_echo(tmp_path, args, stdin)
    shown = run.stdout + run.stderr
    assert run.requests, run.describe()  # the server was asked, and answered 401
    assert "Incorrect API key provided: [REDACTED]" in shown, run.describe()
    for variable, key in KEYS.items():
        assert key not in shown, f"{variable} shown:\n{run.describe()}"
    assert "\x1b" not in shown and "\\x1b]0;x\\x07" in shown, run.describe()
    if name == "doctor":
        assert run.returncode == 1 and "key valid" in run.stdout, run.describe()
    elif name != "chat":
        assert_error(run, 1, "mine (401)", hint=("MINE_VAR",))


# --------------------------------------------------------------------------------------------
# A FIFO in the workspace
# --------------------------------------------------------------------------------------------

GREP_THE_PIPE = (
    {
        "tool_calls": [
            {"id": "call_1", "name": "grep", "arguments": {"pattern": "x", "path": "pipe"}}
        ]
    },
    {"text": "done"},
)


@pytest.mark.parametrize("backend", ["ripgrep", "python"])
def test_grep_on_a_fifo_is_refused_not_waited_for(
    tmp_path: Path, backend: str, make_fifo: Callable[[Path], Path]
) -> None:
    make_fifo(work_dir(tmp_path) / "pipe")  # opened for reading, it blocks until a writer comes
    env = {"CODIVE_NO_RIPGREP": "1"} if backend == "python" else {}
    run = play(complete("local_llm", "find x", replies=GREP_THE_PIPE, env=env), tmp_path)
    assert run.returncode == 0 and run.stdout == "done\n", run.describe()
    results = [m for m in run.posts[-1]["json"]["messages"] if m["role"] == "tool"]
    assert len(results) == 1
    assert "'pipe' is not a regular file (a device, socket or pipe)" in results[0]["content"]


# --------------------------------------------------------------------------------------------
# Standard streams closed
# --------------------------------------------------------------------------------------------


def run_closed(root: Path, closed: str, args: list[str], replies: tuple[Reply, ...] = ()) -> Run:
    """`codive ARGS <&-` (or `>&-`, `2>&-`): the descriptor is not open at all, not even on
    /dev/null."""
    with ScriptedServer(list(replies)) as server:
        argv = [arg.replace("{url}", server.base_url) for arg in args]
        done = subprocess.run(
            ["sh", "-c", f'exec "$0" "$@" {closed}', codive_executable(), *argv],
            capture_output=True,
            encoding="utf-8",
            env=clean_env(root),
            cwd=work_dir(root),
            timeout=TIMEOUT,
            check=False,
        )
        return Run(args, done.returncode, done.stdout, done.stderr, server.requests)


LOCAL = ["-p", "local_llm", "--base-url", "{url}"]


def test_chat_with_stdin_closed_says_what_it_needs(tmp_path: Path) -> None:
    run = run_closed(tmp_path, "<&-", ["chat", *LOCAL])
    assert_error(run, 2, "stdin is closed", hint=("terminal", "codive complete"))
    assert "internal error" not in run.stderr and not run.requests


def test_complete_with_stdin_closed_takes_the_argument(tmp_path: Path) -> None:
    run = run_closed(tmp_path, "<&-", ["complete", *LOCAL, "hi"], reply(text="hello"))
    assert run.returncode == 0 and run.stdout == "hello\n", run.describe()
    run = run_closed(tmp_path, "<&-", ["complete", *LOCAL])
    assert_error(run, 2, "no prompt")


@pytest.mark.parametrize("closed", [">&-", "2>&-"])
def test_complete_with_an_output_closed_still_answers(tmp_path: Path, closed: str) -> None:
    run = run_closed(tmp_path, closed, ["complete", *LOCAL, "hi"], reply(text="hello"))
    assert run.returncode == 0, run.describe()
    assert run.stdout == ("" if closed == ">&-" else "hello\n"), run.describe()
    assert len(run.posts) == 1 and not run.stderr
