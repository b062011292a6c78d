"""One codive per session: a second `--continue` of a session in use goes on in a copy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from codive_cli.conversation.session import SessionBusy, SessionStore
from codive_cli.provider import ChatMessage
from tests.scripted_server import ScriptedServer
from tests.test_agent_cli import CODIVE, workspace


def conversation(path: Path) -> list[tuple[str, str]]:
    """(role, content) of the user and assistant messages in a session file, in file order."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    messages = [r["message"] for r in records if r["type"] == "message"]
    return [(m["role"], m["content"]) for m in messages if m["role"] != "system"]


def chat(server: ScriptedServer, *args: str) -> list[str]:
    return [CODIVE, "chat", "-p", "anthropic", "--base-url", server.base_url, *args]


def test_a_second_continue_forks_instead_of_sharing_the_file(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    sessions = tmp_path / "xdg_data_home" / "codive" / "sessions"
    replies: list[dict[str, Any]] = [{"text": f"answer {n}"} for n in range(1, 5)]
    with ScriptedServer(replies) as server:
        first = subprocess.run(
            chat(server), input="one\n", capture_output=True, text=True, cwd=work, env=env
        )
        assert first.returncode == 0, first.stderr
        [original] = sessions.glob("*.jsonl")
        with subprocess.Popen(
            chat(server, "--continue"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=work,
            env=env,
        ) as holder:
            assert holder.stdin is not None and holder.stdout is not None
            holder.stdin.write("two\n")
            holder.stdin.flush()
            while holder.stdout.readline() != "answer 2\n":
                pass
            second = subprocess.run(
                chat(server, "--continue"),
                input="three\n",
                capture_output=True,
                text=True,
                cwd=work,
                env=env,
            )
            holder.stdin.write("four\n")
            holder.stdin.close()
            assert holder.stdout.read().endswith("answer 4\n")
            assert holder.wait() == 0
    assert second.returncode == 0, second.stderr
    [note] = [line for line in second.stderr.splitlines() if "another codive" in line]
    [fork] = [path for path in sessions.glob("*.jsonl") if path != original]
    assert f"pid {holder.pid}" in note and original.stem in note and fork.stem in note
    shared = [
        ("user", "one"),
        ("assistant", "answer 1"),
        ("user", "two"),
        ("assistant", "answer 2"),
    ]
    assert conversation(original) == [*shared, ("user", "four"), ("assistant", "answer 4")]
    assert conversation(fork) == [*shared, ("user", "three"), ("assistant", "answer 3")]


def test_continue_takes_the_session_back_once_it_is_free(tmp_path: Path) -> None:
    work, env = workspace(tmp_path)
    sessions = tmp_path / "xdg_data_home" / "codive" / "sessions"
    with ScriptedServer([{"text": "answer 1"}, {"text": "answer 2"}]) as server:
        for args, prompt in (((), "one\n"), (("--continue",), "two\n")):
            done = subprocess.run(
                chat(server, *args),
                input=prompt,
                capture_output=True,
                text=True,
                cwd=work,
                env=env,
            )
            assert done.returncode == 0, done.stderr
            assert "another codive" not in done.stderr
    [only] = sessions.glob("*.jsonl")
    assert [text for _, text in conversation(only)] == ["one", "answer 1", "two", "answer 2"]


def test_an_open_session_is_locked_until_it_closes(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    session = store.create(tmp_path, model="m")
    session.append(ChatMessage("user", "hi"))
    with pytest.raises(SessionBusy) as busy:
        store.load(session.id, lock=True)
    assert busy.value.holder == os.getpid()
    assert busy.value.session.messages == [ChatMessage("user", "hi")]
    assert f"another codive (pid {os.getpid()})" in str(busy.value)
    reader = store.load(session.id)  # reading needs no lock; writing does
    with pytest.raises(SessionBusy):
        reader.append(ChatMessage("assistant", "from a second writer"))
    session.close()
    with store.load(session.id, lock=True) as again:
        again.append(ChatMessage("assistant", "hello"))
    assert [m.content for m in store.load(session.id).messages] == ["hi", "hello"]


def test_a_fork_copies_the_conversation_into_a_new_file(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "sessions")
    with store.create(tmp_path, provider="p", model="m") as original:
        original.append(ChatMessage("user", "hi"))
        original.append(ChatMessage("assistant", "partial"), interrupted=True)
        fork = store.fork(original, model="other")
        fork.append(ChatMessage("user", "more"))
        fork.close()
    loaded = store.load(fork.id)
    assert loaded.id != original.id
    assert [m.content for m in loaded.messages] == ["hi", "partial", "more"]
    assert loaded.interrupted_indexes == {1}
    assert loaded.meta == {"provider": "p", "model": "other", "forked_from": original.id}
    assert [m.content for m in store.load(original.id).messages] == ["hi", "partial"]
