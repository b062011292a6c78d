"""Taking a prompt back in a real terminal and from a pipe: Esc Esc and /edit, a turn that
failed before the model answered, and `--resume` without an id."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

from codive_cli.conversation.session import SessionStore
from codive_cli.provider import ChatMessage
from tests.scripted_server import ScriptedServer
from tests.test_chat_pty import CODIVE, environment, say, screen, spawn, workspace

CLEAR = "\x15"  # Ctrl-U: the line so far is deleted


def texts(request: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of each message a request sent, in either wire format."""
    found = []
    for message in request["json"]["messages"]:
        content = message.get("content") or ""
        if isinstance(content, list):
            content = "".join(block.get("text", "") for block in content)
        found.append((message["role"], content))
    return found


def store_of(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "xdg_data_home" / "codive" / "sessions")


def leave(child: Any) -> None:
    say(child, "/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_esc_esc_and_edit_send_a_new_version_of_the_last_prompt(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    script = [{"text": "The answer is 42."}, {"text": "Forty-two."}, {"text": "Six times seven."}]
    with ScriptedServer([*script, {"text": "You asked how."}]) as server:
        child = spawn(server, work, env)
        say(child, "what is the answer?")
        child.expect("answer is 42")
        child.expect("›")
        child.send("\x1b")
        time.sleep(0.2)
        child.send("\x1b")  # Esc Esc at the empty prompt
        child.expect("editing your last prompt")
        child.expect(r"› what is the answer\?")  # back in the input, to edit
        say(child, " In words.")
        child.expect("dropped the answer to your last prompt")
        child.expect("Forty-two.")
        child.expect("›")

        say(child, "/edit")
        child.expect(r"› what is the answer\? In words\.")
        child.send(CLEAR)
        say(child, "how is it computed?")
        child.expect("Six times seven.")
        child.expect("›")
        leave(child)
        requests = server.model_requests

        resumed = subprocess.run(
            [CODIVE, "chat", "-p", "anthropic", "--base-url", server.base_url, "--continue"],
            input="what did I ask?\n",
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            timeout=30,
        )
        assert resumed.returncode == 0, resumed.stderr
        after = server.model_requests[-1]
    assert texts(requests[1]) == [("user", "what is the answer? In words.")]
    assert texts(requests[2]) == [("user", "how is it computed?")]
    assert texts(after) == [
        ("user", "how is it computed?"),
        ("assistant", "Six times seven."),
        ("user", "what did I ask?"),
    ]


@pytest.mark.parametrize("fmt", ["anthropic", "openai"])
def test_after_a_failed_turn_the_next_request_alternates(tmp_path: Path, fmt: str) -> None:
    work = workspace(tmp_path)
    env = environment(tmp_path) | {"OPENAI_API_KEY": "test-key", "NO_COLOR": "1"}
    script: list[dict[str, Any]] = [
        {"text": "one"},
        *[{"status": 500}] * 3,  # the first try and two retries
        {"status": 401},
        {"text": "three"},
    ]
    with ScriptedServer(script) as server:
        base = server.base_url + ("/v1" if fmt == "openai" else "")
        result = subprocess.run(
            [CODIVE, "chat", "-p", fmt, "--base-url", base],
            input="first\nsecond\nsecond again\nthird\n",
            capture_output=True,
            text=True,
            cwd=work,
            env=env,
            timeout=60,
        )
        requests = server.model_requests
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("not sent: ") == 2
    last = [pair for pair in texts(requests[-1]) if pair[0] != "system"]
    assert last == [("user", "first"), ("assistant", "one"), ("user", "third")]


def test_a_failed_prompt_comes_back_into_the_input(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    script: list[dict[str, Any]] = [
        {"text": "one"},
        *[{"status": 500}] * 3,
        {"status": 401},
        {"text": "two"},
    ]
    with ScriptedServer(script) as server:
        child = spawn(server, work, env)
        say(child, "first")
        child.expect("one")
        child.expect("›")
        say(child, "second")
        child.expect("not sent: ")
        child.expect("the prompt is back in the input")
        child.expect("› second")
        say(child, "")  # Enter sends it again
        child.expect("not sent: ")
        child.expect("› second")
        child.send(CLEAR)
        say(child, "third")
        child.expect("two")
        child.expect("›")
        leave(child)
        requests = server.model_requests
    assert texts(requests[-1]) == [("user", "first"), ("assistant", "one"), ("user", "third")]
    session = store_of(tmp_path).latest(work.resolve())
    assert session is not None
    saved = [(m.role, m.content) for m in session.messages if m.role != "system"]
    assert saved == [
        ("user", "first"),
        ("assistant", "one"),
        ("user", "third"),
        ("assistant", "two"),
    ]
    history = (tmp_path / "xdg_data_home" / "codive" / "history").read_text()
    assert "+second" in history  # Up arrow has it too


def saved_sessions(tmp_path: Path, work: Path) -> dict[str, str]:
    store = store_of(tmp_path)
    ids = {}
    for title in ("an older topic", "the latest topic"):
        with store.create(work.resolve()) as session:
            session.append(ChatMessage("user", title))
            session.append(ChatMessage("assistant", f"about {title}"))
            ids[title] = session.id
        time.sleep(0.05)
    return ids


def test_resume_without_an_id_lets_the_person_pick(tmp_path: Path) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    ids = saved_sessions(tmp_path, work)
    with ScriptedServer([{"text": "Going on."}]) as server:
        child = pexpect.spawn(
            CODIVE,
            ["chat", "-p", "anthropic", "--resume", "--base-url", server.base_url],
            cwd=str(work),
            env=env,
            encoding="utf-8",
            timeout=20,
            dimensions=(40, 100),
        )
        child.expect(r"Resume which\? \[1-2")
        shown = screen(child)
        assert re.search(r"1  the latest topic  just now · 2 messages", shown), shown
        say(child, "7")
        child.expect("a number from 1 to 2")
        say(child, "2")
        child.expect(f"continuing session {ids['an older topic']}")
        child.expect("›")
        say(child, "go on")
        child.expect("Going on.")
        leave(child)
        sent = texts(server.model_requests[0])
    assert [text for role, text in sent if role == "user"] == ["an older topic", "go on"]


@pytest.mark.parametrize("command", ["chat", "complete"])
def test_resume_without_an_id_and_no_terminal_is_a_usage_error(
    tmp_path: Path, command: str
) -> None:
    work, env = workspace(tmp_path), environment(tmp_path)
    saved_sessions(tmp_path, work)
    result = subprocess.run(
        [CODIVE, command, "--resume"],
        input="hi\n",
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--resume" in result.stderr and "hint: pass one: codive" in result.stderr
    assert result.stdout == ""
