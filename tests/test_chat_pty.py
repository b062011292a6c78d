"""`codive chat` in a real pseudo-terminal, driven the way a person would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pexpect

from tests.helpers import isolated_env
from tests.scripted_server import ScriptedServer
from tests.test_signals import started_job, wait_dead

CODIVE = str(Path(sys.executable).parent / "codive")
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")


def environment(tmp_path: Path) -> dict[str, str]:
    env = isolated_env(
        tmp_path, ANTHROPIC_API_KEY="test-key", TERM="xterm-256color", COLUMNS="100", LINES="40"
    )
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # pexpect does not answer cursor-position requests
    return env


def workspace(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    (work / "app.py").write_text("def greet():\n    return 'hello'\n")
    return work


def spawn(server: ScriptedServer, work: Path, env: dict[str, str], *args: str) -> Any:
    child = pexpect.spawn(
        CODIVE,
        ["chat", "-p", "anthropic", "--base-url", server.base_url, *args],
        cwd=str(work),
        env=env,
        encoding="utf-8",
        timeout=20,
        dimensions=(40, 100),
    )
    child.expect("›")
    return child


def say(child: Any, text: str) -> None:
    """Type a line and press Enter (a real Enter key sends CR; LF is Ctrl-J, a newline)."""
    child.send(text + "\r")


def screen(child: Any) -> str:
    return ANSI.sub("", child.before or "")


EDIT = {
    "text": "I'll change the greeting.",
    "tool_calls": [
        {
            "id": "e1",
            "name": "edit_file",
            "arguments": {
                "path": "app.py",
                "old_string": "return 'hello'",
                "new_string": "return 'bonjour'",
            },
        }
    ],
}
COMMAND = {"tool_calls": [{"id": "b1", "name": "bash", "arguments": {"command": "make deploy"}}]}


def test_chat_streams_approves_denies_and_interrupts(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    script: list[dict[str, Any]] = [
        {"text": "Hello! I can **help** with that.", "chunks": 6},
        EDIT,
        {"text": "Done: it now says bonjour."},
        COMMAND,
        {"text": "Understood, I will not deploy."},
        {"text": "word " * 400, "chunks": 200, "chunk_delay": 0.05},
        {"text": "Still here."},
        {"text": "too late", "delay": 3},
    ]
    with ScriptedServer(script) as server:
        child = spawn(server, work, env)
        say(child, "hi there")
        child.expect("with that")  # "help" is bold: escape codes in between
        child.expect(r"claude-sonnet-5-5 · [\d,]+ in · [\d,]+ out · \$")  # usage after the turn
        child.expect("›")

        say(child, "make it say bonjour")
        child.expect(r"\[y\] yes")
        say(child, "y")
        child.expect("bonjour")  # the diff
        child.expect("Done: it now says bonjour")
        child.expect("›")
        assert "return 'bonjour'" in (work / "app.py").read_text()

        say(child, "deploy it")
        child.expect(r"\[y\] yes")
        say(child, "n not today")
        child.expect("will not deploy")
        child.expect("›")

        say(child, "write a lot")
        child.expect("word word word")
        child.sendintr()
        child.expect(r"\n(\x1b\[[0-9;]*m)*· interrupted")  # on its own line, not after ^C
        child.expect("›")

        say(child, "are you there?")
        child.expect("Still here")
        child.expect("›")

        say(child, "think slowly")
        time.sleep(1)  # the spinner, before the first token
        child.sendintr()
        child.expect(r"\n(\x1b\[[0-9;]*m)*· interrupted")
        child.expect("›")

        say(child, "/usage")
        child.expect("total:")
        child.expect("›")
        say(child, "/exit")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        requests = server.model_requests

    refused = requests[4]["json"]["messages"][-1]["content"][0]
    assert refused["is_error"] and "not today" in refused["content"]
    last = requests[6]["json"]["messages"]
    interrupted = [m for m in last if m["role"] == "assistant" and "word word" in str(m)]
    assert interrupted, "the partial answer stays in the conversation"
    assert "[the user interrupted this answer]" in str(interrupted[0]), "the model is told"
    history = tmp_path / "xdg_data_home" / "codive" / "history"
    assert "make it say bonjour" in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600  # what was typed is private


def test_continue_shows_the_earlier_conversation(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    with ScriptedServer([{"text": "The answer is 42."}, {"text": "You asked about 42."}]) as server:
        child = spawn(server, work, env)
        say(child, "what is the answer?")
        child.expect("answer is 42")
        child.expect("›")
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()

        child = spawn(server, work, env, "--continue")
        child.expect("continuing session")
        assert "what is the answer?" in screen(child)
        assert "The answer is 42." in screen(child)
        say(child, "what did I ask?")
        child.expect("You asked about 42")
        say(child, "/exit")
        child.expect(pexpect.EOF)
        second = server.model_requests[1]["json"]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]


def long_session(tmp_path: Path, work: Path) -> str:
    """A saved session of `work`: 60 short turns, then one with Markdown, a file attached and
    a tool call; its id."""
    from codive_cli.conversation.session import SessionStore
    from codive_cli.provider import ChatMessage, ToolCall

    store = SessionStore(tmp_path / "xdg_data_home" / "codive" / "sessions")
    call = ToolCall("r1", "read_file", {"path": "app.py"})
    with store.create(work) as session:
        for n in range(60):
            session.append(ChatMessage("user", f"old question {n}"))
            session.append(ChatMessage("assistant", f"old answer {n}"))
        attached = '<file path="app.py">\ndef greet():\n    return 1\n</file>'
        session.append(ChatMessage("user", f"look at @app.py\n\n{attached}"))
        session.append(ChatMessage("assistant", "Let me **read** it.", tool_calls=(call,)))
        session.append(ChatMessage("tool", "def greet():\n    return 1", tool_call_id="r1"))
        session.append(ChatMessage("assistant", "## Findings\n\n- it greets\n- `greet` returns 1"))
        return session.id


def test_resume_shows_the_last_turns_as_they_looked(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    session_id = long_session(tmp_path, work)
    with ScriptedServer([{"text": "ok"}]) as server:
        arguments = ["chat", "-p", "anthropic", "--base-url", server.base_url]
        child = pexpect.spawn(
            CODIVE,
            [*arguments, "--resume", session_id],
            cwd=str(work),
            env=env,
            encoding="utf-8",
            timeout=20,
            dimensions=(40, 100),
        )
        child.expect("continuing session")
        shown = screen(child)
        child.expect("›")
        say(child, "/exit")
        child.expect(pexpect.EOF)
    assert "· 116 earlier messages not shown; /history shows more" in shown
    assert "old question 58" in shown and "old answer 59" in shown
    assert "old question 57" not in shown
    assert "› look at @app.py" in shown and "attached: app.py" in shown
    assert "<file" not in shown
    assert "Let me read it." in shown  # Markdown rendered: bold, not asterisks
    assert "⏺ read_file(app.py)" in shown and "⎿ def greet(): (+1 lines)" in shown
    assert "Findings" in shown and "## " not in shown and "• it greets" in shown


def test_a_piped_resume_prints_only_the_new_answers(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    session_id = long_session(tmp_path, work)
    with ScriptedServer([{"text": "fresh answer"}]) as server:
        result = subprocess.run(
            [
                CODIVE,
                "chat",
                "-p",
                "anthropic",
                "--base-url",
                server.base_url,
                "--resume",
                session_id,
            ],
            input="go on\n",
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            timeout=30,
        )
        sent = server.model_requests[0]["json"]["messages"]
    assert result.returncode == 0, result.stderr
    assert result.stdout == "fresh answer\n"
    assert len(sent) == 125  # the whole conversation still goes to the model


def test_chat_reads_prompts_from_a_pipe(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    with ScriptedServer([{"text": "first answer"}, {"text": "second answer"}]) as server:
        result = subprocess.run(
            [CODIVE, "chat", "-p", "anthropic", "--base-url", server.base_url],
            input="one\ntwo\n",
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            timeout=30,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "first answer\nsecond answer\n"
    assert "\x1b" not in result.stdout


def test_chat_asks_once_before_trusting_a_project_file(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    (work / "codive.toml").write_text('[agent]\npermission_mode = "full"\nallow = ["bash(*)"]\n')
    with ScriptedServer([{"text": "hello"}, {"text": "again"}]) as server:
        child = pexpect.spawn(
            CODIVE,
            ["chat", "-p", "anthropic", "--base-url", server.base_url],
            cwd=str(work),
            env=env,
            encoding="utf-8",
            timeout=20,
            dimensions=(40, 100),
        )
        child.expect("is not trusted")
        child.expect(r"Trust this folder's codive.toml\? \[y/N\]")
        shown = screen(child)
        assert 'agent.permission_mode = "full"' in shown and "agent.allow" in shown
        say(child, "n")
        child.expect("keys are ignored")
        child.expect("›")
        say(child, "/permissions")
        child.expect("mode ask")
        say(child, "/exit")
        child.expect(pexpect.EOF)

        child = pexpect.spawn(
            CODIVE,
            ["chat", "-p", "anthropic", "--base-url", server.base_url],
            cwd=str(work),
            env=env,
            encoding="utf-8",
            timeout=20,
            dimensions=(40, 100),
        )
        child.expect(r"\[y/N\]")  # still untrusted: asked again
        say(child, "y")
        child.expect("›")
        say(child, "/permissions")
        child.expect("mode full")
        say(child, "/exit")
        child.expect(pexpect.EOF)


def test_closing_the_terminal_stops_the_running_command(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    long = {"command": "sleep 300 & echo $! > sleep.pid; wait"}
    script: list[dict[str, Any]] = [
        {"tool_calls": [{"id": "b", "name": "bash", "arguments": long}]},
        {"text": "-"},
    ]
    with ScriptedServer(script) as server:
        child = spawn(server, work, env, "--permission-mode", "full")
        say(child, "run it")
        job = started_job(work, child.isalive)
        os.close(child.child_fd)  # the terminal goes away: the kernel sends SIGHUP
        child.closed = True
        _, status = os.waitpid(child.pid, 0)
    wait_dead(job)
    assert os.waitstatus_to_exitcode(status) == 129


def test_a_running_command_shows_its_line_time_and_output_before_it_ends(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    command = "echo compiling; sleep 4; echo linked"
    slow = {"tool_calls": [{"id": "s1", "name": "bash", "arguments": {"command": command}}]}
    with ScriptedServer([slow, {"text": "Built."}]) as server:
        child = spawn(server, work, env, "--permission-mode", "full")
        say(child, "build it")
        started = time.monotonic()
        child.expect(r"running \d+\.\d s", timeout=3)  # at once, not when it ends
        child.expect("compiling", timeout=3)  # its output as it comes
        assert time.monotonic() - started < 3.5, "the command has not finished yet"
        child.expect("linked", timeout=10)
        child.expect("Built.")
        child.expect("›")
        say(child, "/exit")
        child.expect(pexpect.EOF)


def test_thinking_is_shown_while_it_streams_and_kept_for_thinking(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    reasoning = "First I check the greeting function. " * 3 + "Then the caller in main."
    reply = {"thinking": reasoning, "text": "It returns hello.", "chunks": 30, "chunk_delay": 0.1}
    with ScriptedServer([reply]) as server:
        child = spawn(server, work, env)
        say(child, "what does greet return?")
        child.expect("check the greeting", timeout=4)  # while it arrives, before the answer
        assert "It returns hello" not in screen(child)
        child.expect(r"thought for \d+ words \(/thinking shows it\)")
        child.expect("It returns hello.")
        child.expect("›")
        say(child, "/thinking")
        child.expect("Then the caller in main.")
        child.expect("›")
        say(child, "/exit")
        child.expect(pexpect.EOF)


def test_a_retry_is_announced_while_waiting(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    limited = {
        "status": 429,
        "body": {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
        "headers": {"retry-after": "2"},
    }
    with ScriptedServer([limited, {"text": "Here after the wait."}]) as server:
        child = spawn(server, work, env)
        say(child, "hi")
        child.expect(r"rate limited; retrying in 2 s \(1/\d\)", timeout=3)
        child.expect("Here after the wait.", timeout=10)
        child.expect("›")
        say(child, "/exit")
        child.expect(pexpect.EOF)


def test_a_retry_is_announced_on_stderr_when_piped(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    limited = {"status": 503, "body": "busy", "headers": {"retry-after": "1"}}
    with ScriptedServer([limited, {"text": "ok then"}]) as server:
        result = subprocess.run(
            [CODIVE, "complete", "-p", "anthropic", "--base-url", server.base_url, "hi"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    assert result.stdout == "ok then\n"
    assert re.search(r"codive: .*; retrying in 1 s \(1/\d\)", result.stderr), result.stderr


COMPACTING_RUN: list[dict[str, Any]] = [
    {"tool_calls": [{"id": "c1", "name": "read_file", "arguments": {"path": "app.py"}}]},
    {"tool_calls": [{"id": "c2", "name": "read_file", "arguments": {"path": "app.py"}}]},
    {
        "tool_calls": [{"id": "c3", "name": "read_file", "arguments": {"path": "app.py"}}],
        "usage": {"input_tokens": 3900},
    },
    {"text": "Read app.py three times."},  # the summary
    {"text": "It returns hello."},
]


def test_a_long_run_says_it_compacted_on_a_terminal_and_on_a_pipe(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    env["CODIVE_AGENT__ASSUMED_CONTEXT_WINDOW"] = "4000"
    args = ["complete", "-p", "anthropic", "-m", "unknown-model", "-y", "what does greet do?"]
    with ScriptedServer(COMPACTING_RUN) as server:
        child = pexpect.spawn(
            CODIVE,
            [*args, "--base-url", server.base_url],
            cwd=str(work),
            env=env,
            encoding="utf-8",
            timeout=20,
            dimensions=(40, 100),
        )
        child.expect("compacted: earlier steps summarised; the latest 4 messages kept")
        child.expect("It returns hello.")
        child.expect(pexpect.EOF)
    with ScriptedServer(COMPACTING_RUN) as server:
        piped = subprocess.run(
            [CODIVE, *args, "--base-url", server.base_url],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    assert piped.stdout == "It returns hello.\n", piped.stderr
    assert "codive: compacted: earlier steps summarised; the latest 4 messages kept" in piped.stderr
