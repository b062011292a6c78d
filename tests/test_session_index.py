"""The session index: listing reads it, not whole files, and it survives everything."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from codive_cli.conversation.session import SessionStore
from codive_cli.conversation.session import index as session_index
from codive_cli.provider import ChatMessage


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


def saved(store: SessionStore, workspace: Path, *prompts: str, age: float = 0) -> str:
    """A closed session with these prompts, each answered; its file `age` seconds old."""
    with store.create(workspace) as session:
        for prompt in prompts:
            session.append(ChatMessage("user", prompt))
            session.append(ChatMessage("assistant", f"re: {prompt}"))
        session.sync()
    if age:
        stamp = time.time() - age
        os.utime(session.path, (stamp, stamp))
    return session.id


def settle(store: SessionStore) -> None:
    """Age the folder's mtime past the racy window, so an index can be trusted as complete."""
    stamp = time.time() - 10
    os.utime(store.root, (stamp, stamp))


def described(store: SessionStore, workspace: Path) -> list[tuple[str, str, int]]:
    return [(info.id, info.title, info.messages) for info in store.list(workspace)]


def old_codive_file(store: SessionStore, workspace: Path, name: str, prompt: str) -> None:
    """A session written by a codive from before the index: a file, nothing else."""
    header = {"type": "session", "version": 1, "id": name, "created": "2025-03-01T14:15:02+00:00"}
    header["workspace"] = str(workspace.resolve())
    message = {"type": "message", "message": {"role": "user", "content": prompt}}
    store.root.mkdir(parents=True, exist_ok=True)
    text = json.dumps(header) + "\n" + json.dumps(message) + "\n"
    (store.root / f"{name}.jsonl").write_text(text)


def test_the_index_is_rebuilt_when_missing_or_corrupt(store: SessionStore, workspace: Path) -> None:
    a = saved(store, workspace, "first", age=30)
    b = saved(store, workspace, "second", "more", age=20)
    expected = [(b, "second", 4), (a, "first", 2)]
    assert described(store, workspace) == expected
    index_file = store.index.file(str(workspace.resolve()))
    for damage in (b"", b"\x00garbage\n{not json\n", b'{"index":99}\n[1,2]\n', None):
        if damage is None:
            for path in store.index.dir.iterdir():
                path.unlink()
            store.index.dir.rmdir()
        else:
            index_file.write_bytes(damage)
            (store.index.dir / "ids").write_bytes(damage)
        assert described(store, workspace) == expected
        assert index_file.exists()


def test_sessions_of_older_codives_are_listed_and_continued(
    store: SessionStore, workspace: Path
) -> None:
    old_codive_file(store, workspace, "20250301-141502-9f3a", "from before the index")
    [info] = store.list(workspace)
    assert (info.id, info.title, info.messages) == (
        "20250301-141502-9f3a",
        "from before the index",
        1,
    )
    settle(store)
    store.list(workspace)  # the index now matches the folder
    old_codive_file(store, workspace, "20250302-141502-0000", "an older codive, later")
    assert store.list(workspace)[0].title == "an older codive, later"
    latest = store.latest(workspace)
    assert latest is not None and latest.id == "20250302-141502-0000"


def test_changes_behind_the_index_are_seen(store: SessionStore, workspace: Path) -> None:
    a = saved(store, workspace, "kept", age=30)
    b = saved(store, workspace, "grows", age=20)
    gone = saved(store, workspace, "deleted", age=10)
    settle(store)
    store.list(workspace)
    with (store.root / f"{b}.jsonl").open("a") as file:  # an older codive appends a turn
        file.write(json.dumps({"type": "message", "message": {"role": "user", "content": "x"}}))
        file.write("\n")
    (store.root / f"{gone}.jsonl").unlink()
    assert described(store, workspace) == [(b, "grows", 3), (a, "kept", 2)]
    assert [e.id for e in session_index._entries(store.index.file(str(workspace.resolve())))] == [
        b,
        a,
    ]


def test_listing_reads_neither_whole_files_nor_the_folder(
    store: SessionStore, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [saved(store, workspace, f"question {n}", age=100 - n) for n in range(30)]
    settle(store)
    store.list(workspace)  # reconciled once

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read a whole session file, or the whole folder")

    monkeypatch.setattr(session_index, "load", refuse)
    monkeypatch.setattr(session_index, "_session_names", refuse)
    parsed: list[bytes] = []
    parse = session_index.Entry.parse

    def counted(raw: bytes) -> session_index.Entry | None:
        parsed.append(raw)
        return parse(raw)

    monkeypatch.setattr(session_index.Entry, "parse", counted)
    infos = store.list(workspace, limit=20)
    assert [info.id for info in infos] == ids[::-1][:20]
    assert len(parsed) == 20  # lines read until the page was full, no more
    latest = store.latest(workspace)
    assert latest is not None and latest.id == ids[-1]


def _writer(root: str, workspace: str, turns: int) -> None:
    store = SessionStore(Path(root))
    for _ in range(3):
        with store.create(Path(workspace)) as session:
            for turn in range(turns):
                session.append(ChatMessage("user", f"turn {turn}"))
                session.sync()


def test_concurrent_writers_never_corrupt_the_index(store: SessionStore, workspace: Path) -> None:
    context = multiprocessing.get_context("fork")
    writers = [
        context.Process(target=_writer, args=(str(store.root), str(workspace), 15))
        for _ in range(6)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    lines = store.index.file(str(workspace.resolve())).read_bytes().splitlines()
    assert json.loads(lines[0])["index"] == 1
    entries = [session_index.Entry.parse(line) for line in lines[1:]]
    assert all(entries) and len(entries) == 18
    infos = store.list(workspace)
    assert len(infos) == 18 and {info.messages for info in infos} == {15}
    assert len({path.stem for path in store.root.glob("*.jsonl")}) == 18
