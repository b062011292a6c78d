"""Sessions: JSONL round trips, forgiving loads, repairs, compaction, and a SIGKILL torture test."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from codive_cli.agent import compaction as context
from codive_cli.agent.codec import decode_message, encode_message
from codive_cli.agent.compaction import SUMMARY_PREFIX
from codive_cli.conversation.session import INTERRUPTED_RESULT, Session, SessionStore
from codive_cli.provider import ChatMessage, Thinking, ToolCall
from tests import session_writer

CALL = ToolCall("call_1", "read_file", {"path": "src/a.py", "limit": 10})

SYSTEM = ChatMessage("system", "You are codive.")
MANY_CALLS = ChatMessage(
    "assistant",
    "",
    tool_calls=(
        CALL,
        ToolCall("call_2", "bash", {"command": "ls", "nested": {"a": [1, None, True, 2.5]}}),
        ToolCall("call_3", "edit_file", {}, arguments_error="arguments are not valid JSON"),
    ),
)
THINKING = ChatMessage(
    "assistant",
    "Done.",
    thinking=(
        Thinking("I should read the file first.", signature="sig-abc=="),
        Thinking("", redacted_data="EqkBCkYIBRgC..."),
        Thinking("unsigned"),
    ),
)
# Every shape of message, in an order the model APIs accept (each call answered in turn).
CONVERSATION = [
    SYSTEM,
    ChatMessage("user", "fix the test"),
    ChatMessage("user", ""),
    ChatMessage("user", 'héllo wörld ✓ 日本語 🚀 \u2028 line\nbreak "quotes" \\ \t tab'),
    ChatMessage("user", "lone surrogate from undecodable output: \udcff"),
    ChatMessage("assistant", "Let me look.", tool_calls=(CALL,)),
    ChatMessage("tool", "file text", tool_call_id="call_1"),
    MANY_CALLS,
    ChatMessage("tool", "no such file", tool_call_id="call_1", is_error=True),
    ChatMessage("tool", "", tool_call_id="call_2"),
    ChatMessage("tool", "bad arguments", tool_call_id="call_3", is_error=True),
    THINKING,
    ChatMessage("user", "again"),
    ChatMessage("assistant", "", tool_calls=(CALL,), thinking=(Thinking("plan", signature=""),)),
    ChatMessage("tool", "file text", tool_call_id="call_1"),
]


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


def write_lines(session: Session, *lines: bytes) -> None:
    with session.path.open("ab") as file:
        file.write(b"".join(lines))


def record_line(message: ChatMessage, **extra: Any) -> bytes:
    record = {"type": "message", "message": encode_message(message), **extra}
    return json.dumps(record).encode() + b"\n"


def conversation(store: SessionStore, workspace: Path, *messages: ChatMessage) -> Session:
    session = store.create(workspace, provider="scripted", model="m1")
    for message in messages:
        session.append(message)
    session.close()
    return session


# --- encoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("message", CONVERSATION)
def test_every_message_shape_round_trips_through_json(message: ChatMessage) -> None:
    encoded = encode_message(message)
    assert decode_message(json.loads(json.dumps(encoded))) == message
    assert decode_message(json.loads(json.dumps(encoded, ensure_ascii=False))) == message


def test_defaults_are_left_out_of_the_encoding() -> None:
    assert encode_message(ChatMessage("user", "hi")) == {"role": "user", "content": "hi"}


def test_decode_ignores_unknown_keys() -> None:
    data = {"role": "user", "content": "hi", "from_the_future": 1}
    assert decode_message(data) == ChatMessage("user", "hi")


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"content": "no role"},
        {"role": "robot", "content": "x"},
        {"role": "user", "content": 5},
        {"role": "user", "content": None},
        {"role": "tool", "tool_call_id": 7},
        {"role": "tool", "is_error": "yes"},
        {"role": "assistant", "tool_calls": {"id": "c"}},
        {"role": "assistant", "tool_calls": ["c"]},
        {"role": "assistant", "tool_calls": [{"name": "bash", "arguments": {}}]},
        {"role": "assistant", "tool_calls": [{"id": "c", "name": "bash", "arguments": [1]}]},
        {"role": "assistant", "tool_calls": [{"id": True, "name": "bash"}]},
        {"role": "assistant", "thinking": ["text"]},
        {"role": "assistant", "thinking": [{"text": "t", "signature": 1}]},
    ],
)
def test_decode_rejects_bad_shapes(data: Any) -> None:
    with pytest.raises(ValueError):
        decode_message(data)


# --- writing and loading ---------------------------------------------------------------------


def test_append_then_load_gives_the_same_conversation(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, *CONVERSATION)
    loaded = store.load(session.id)
    assert loaded.messages == CONVERSATION
    assert loaded.warnings == []
    assert (loaded.id, loaded.path) == (session.id, session.path)
    assert loaded.workspace == str(workspace.resolve())
    assert loaded.meta == {"provider": "scripted", "model": "m1"}
    assert loaded.created == session.created


def test_file_format(store: SessionStore, workspace: Path) -> None:
    session = store.create(workspace, model="m1")
    session.append(ChatMessage("user", "hi ✓"))
    session.record("usage", model="m1", input_tokens=10, output_tokens=2)
    session.close()
    lines = session.path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every record ends its line
    header, message, usage = (json.loads(line) for line in lines[:-1])
    assert header == {
        "type": "session",
        "version": 1,
        "id": session.id,
        "created": session.created,
        "workspace": str(workspace.resolve()),
        "model": "m1",
    }
    assert message == {"type": "message", "message": {"role": "user", "content": "hi ✓"}}
    assert usage == {"type": "usage", "model": "m1", "input_tokens": 10, "output_tokens": 2}
    assert "✓".encode() in lines[1]  # readable UTF-8, not \u escapes


def test_ids_are_sortable_timestamps(store: SessionStore, workspace: Path) -> None:
    ids = [store.create(workspace).id for _ in range(5)]
    for session_id in ids:
        date, clock, suffix = session_id.split("-")
        assert len(date) == 8 and len(clock) == 6 and date.isdigit() and clock.isdigit()
        assert len(suffix) == 4 and int(suffix, 16) >= 0
    assert len(set(ids)) == 5


def test_usage_and_model_records(store: SessionStore, workspace: Path) -> None:
    session = store.create(workspace, provider="anthropic", model="a1")
    session.record("usage", model="a1", input_tokens=10, output_tokens=2, cache_read_tokens=1)
    session.record("model", provider="openai", model="o1")
    session.record("usage", model="o1", input_tokens=5, output_tokens=3)
    session.record("note", text="something only another reader cares about")
    assert session.meta == {"provider": "openai", "model": "o1"}
    session.close()
    loaded = store.load(session.id)
    assert (loaded.usage.input_tokens, loaded.usage.output_tokens) == (15, 5)
    assert loaded.usage.cache_read_tokens == 1
    assert loaded.meta == {"provider": "openai", "model": "o1"}
    assert loaded.warnings == []


def test_reserved_record_kinds_are_refused(store: SessionStore, workspace: Path) -> None:
    session = store.create(workspace)
    for kind in ("session", "message", "compact"):
        with pytest.raises(ValueError):
            session.record(kind)
    with pytest.raises(ValueError):
        session.record("usage", type="other")
    with pytest.raises(ValueError):
        store.create(workspace, id="mine")


def test_close_is_final_and_idempotent(store: SessionStore, workspace: Path) -> None:
    with store.create(workspace) as session:
        session.append(ChatMessage("user", "hi"))
        session.sync()
    session.close()
    session.sync()  # nothing to sync: no error
    with pytest.raises(ValueError, match="closed"):
        session.append(ChatMessage("user", "again"))


def test_a_loaded_session_continues_in_the_same_file(store: SessionStore, workspace: Path) -> None:
    first = conversation(store, workspace, ChatMessage("user", "one"))
    loaded = store.load(first.id)
    loaded.append(ChatMessage("assistant", "two"))
    loaded.close()
    assert store.load(first.id).messages == [
        ChatMessage("user", "one"),
        ChatMessage("assistant", "two"),
    ]
    assert len(list(store.root.glob("*.jsonl"))) == 1


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_files_are_private(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ChatMessage("user", "secret"))
    assert stat.S_IMODE(session.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_an_existing_open_sessions_dir_is_made_private(tmp_path: Path, workspace: Path) -> None:
    root = tmp_path / "open"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    SessionStore(root).create(workspace).close()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


# --- finding sessions ------------------------------------------------------------------------


def test_latest_and_list_per_workspace(store: SessionStore, tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    old = conversation(store, here, ChatMessage("user", "first   question\nsecond line"))
    long = "a very long first question " * 5
    new = conversation(store, here, ChatMessage("system", "sys"), ChatMessage("user", long))
    other = conversation(store, there, ChatMessage("user", "elsewhere"))
    for age, session in enumerate([other, new, old]):
        stamp = time.time() - 100 * (age + 1)
        os.utime(session.path, (stamp, stamp))

    assert (latest := store.latest(here)) is not None
    assert latest.id == new.id
    infos = store.list(here)
    assert [info.id for info in infos] == [new.id, old.id]
    assert infos[0].title == long.strip()[:59] + "…"
    assert len(infos[0].title) == 60
    assert infos[1].title == "first question second line"
    assert [info.messages for info in infos] == [2, 1]
    assert infos[0].workspace == str(here.resolve())
    assert infos[0].created == new.created
    assert infos[0].updated > infos[1].updated
    assert [info.id for info in store.list()] == [other.id, new.id, old.id]
    assert [info.id for info in store.list(there)] == [other.id]

    conversation(store, there, ChatMessage("user", "newest"))
    assert store.list()[0].title == "newest"


def test_latest_passes_over_sessions_without_a_user_message(
    store: SessionStore, workspace: Path
) -> None:
    real = conversation(store, workspace, ChatMessage("user", "hi"))
    os.utime(real.path, (1, 1))
    empty = conversation(store, workspace, ChatMessage("system", "sys"))
    assert (latest := store.latest(workspace)) is not None
    assert latest.id == real.id
    real.path.unlink()
    assert (latest := store.latest(workspace)) is not None
    assert latest.id == empty.id


def test_nothing_saved_yet(store: SessionStore, workspace: Path) -> None:
    assert store.latest(workspace) is None
    assert store.list() == []
    assert store.list(workspace) == []
    assert not store.root.exists()  # looking creates nothing


def test_load_by_prefix(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ChatMessage("user", "hi"))
    assert store.load(session.id[:-2]).id == session.id
    assert store.load(session.id).id == session.id


def test_ambiguous_and_unknown_ids(store: SessionStore, workspace: Path) -> None:
    a = conversation(store, workspace, ChatMessage("user", "a"))
    b = conversation(store, workspace, ChatMessage("user", "b"))
    common = next(a.id[:n] for n in range(len(a.id), 0, -1) if b.id.startswith(a.id[:n]))
    with pytest.raises(KeyError, match="ambiguous"):
        store.load(common)
    with pytest.raises(KeyError, match="nope"):
        store.load("nope")
    with pytest.raises(KeyError):
        store.load("")
    with pytest.raises(KeyError):
        store.load(f"../{store.root.name}/{a.id}")


# --- damaged files ---------------------------------------------------------------------------

ONE, TWO, THREE = (
    ChatMessage("user", "one"),
    ChatMessage("assistant", "two"),
    ChatMessage("user", "three"),
)


def test_a_torn_last_line_is_skipped_and_the_next_append_starts_a_new_line(
    store: SessionStore, workspace: Path
) -> None:
    session = conversation(store, workspace, ONE, TWO)
    write_lines(session, record_line(THREE)[:25])  # cut mid-record, no newline
    loaded = store.load(session.id)
    assert loaded.messages == [ONE, TWO]
    assert loaded.warnings == ["line 4: not valid JSON (the last write was cut short), skipped"]

    loaded.append(THREE)
    loaded.close()
    again = store.load(session.id)
    assert again.messages == [ONE, TWO, THREE]
    assert again.warnings == ["line 4: not valid JSON, skipped"]


def test_a_torn_line_in_the_middle(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ONE)
    write_lines(session, record_line(TWO)[:-20] + b"\n", record_line(THREE))
    loaded = store.load(session.id)
    assert loaded.messages == [ONE, THREE]
    assert loaded.warnings == ["line 3: not valid JSON, skipped"]


def test_nul_bytes(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ONE)
    write_lines(session, b"\0" * 4096 + b"\n", record_line(TWO), b"\0" * 100)
    loaded = store.load(session.id)
    assert loaded.messages == [ONE, TWO]
    assert loaded.warnings == [
        "line 3: NUL bytes, skipped",
        "line 5: NUL bytes (the last write was cut short), skipped",
    ]
    loaded.append(THREE)  # after NUL padding (power loss), the next record starts a line
    loaded.close()
    assert store.load(session.id).messages == [ONE, TWO, THREE]


def test_invalid_utf8(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ONE)
    bad = record_line(ChatMessage("user", "x")).replace(b'"x"', b'"\xff\xfe"')
    write_lines(session, bad, record_line(TWO))
    loaded = store.load(session.id)
    assert loaded.messages == [ONE, TWO]
    assert loaded.warnings == ["line 3: not valid UTF-8, skipped"]


def test_two_records_on_one_line_are_both_read(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ONE)
    write_lines(session, record_line(TWO).rstrip(b"\n") + record_line(THREE))
    loaded = store.load(session.id)
    assert loaded.messages == [ONE, TWO, THREE]
    assert loaded.warnings == []


def test_junk_before_a_record_on_the_same_line(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ONE)
    write_lines(session, record_line(TWO)[:30] + record_line(THREE))
    loaded = store.load(session.id)
    assert loaded.messages == [ONE, THREE]
    assert loaded.warnings == ["line 3: not valid JSON at columns 1-30, skipped"]


def test_records_of_the_wrong_shape(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ONE)
    write_lines(
        session,
        b"[1, 2]\n",
        b'"text"\n',
        b'{"type": "message", "message": {"role": "robot", "content": "beep"}}\n',
        b'{"type": "message"}\n',
        b'{"type": "compact", "summary": 3, "keep": 1}\n',
        b'{"type": "from-the-future", "data": 1}\n',
        b'{"type": "usage", "input_tokens": "many"}\n',
        b"[" * 100_000 + b"\n",
        record_line(TWO),
    )
    loaded = store.load(session.id)
    assert loaded.messages == [ONE, TWO]
    assert loaded.warnings == [
        "line 3: not a record object, skipped",
        "line 4: not a record object, skipped",
        "line 5: bad message record (unknown role 'robot'), skipped",
        "line 6: bad message record (a message must be a JSON object, not NoneType), skipped",
        "line 7: bad compact record ('summary' has the wrong type (int)), skipped",
        "line 10: not valid JSON, skipped",
    ]


def test_a_missing_header(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ONE)
    data = session.path.read_bytes()
    session.path.write_bytes(b"garbage" + data[data.index(b"\n") :])
    loaded = store.load(session.id)
    assert loaded.id == session.id  # from the file name
    assert loaded.messages == [ONE]
    assert loaded.warnings[0].startswith("no session header")
    assert store.latest(workspace) is None  # its workspace is unknown
    assert [info.id for info in store.list()] == [session.id]


# --- repairs ---------------------------------------------------------------------------------

ASK = ChatMessage("user", "look at both files")
CALLS = ChatMessage(
    "assistant",
    "Reading.",
    tool_calls=(ToolCall("c1", "read_file", {"path": "a"}), ToolCall("c2", "read_file", {})),
)
RESULT_1 = ChatMessage("tool", "a's text", tool_call_id="c1")


def stopped(call_id: str) -> ChatMessage:
    return ChatMessage("tool", INTERRUPTED_RESULT, tool_call_id=call_id, is_error=True)


def test_an_interrupted_answer_keeps_its_text(store: SessionStore, workspace: Path) -> None:
    session = store.create(workspace)
    session.append(ONE)
    session.append(ChatMessage("assistant", "The answer is"), interrupted=True)
    assert session.interrupted_indexes == {1}
    session.close()
    assert b'"interrupted":true' in session.path.read_bytes()
    loaded = store.load(session.id)
    assert loaded.messages == [ONE, ChatMessage("assistant", "The answer is")]
    assert loaded.interrupted_indexes == {1}
    assert loaded.warnings == []


def test_missing_tool_results_at_the_end_are_repaired_once(
    store: SessionStore, workspace: Path
) -> None:
    session = conversation(store, workspace, ASK, CALLS, RESULT_1)
    loaded = store.load(session.id)
    assert loaded.messages == [ASK, CALLS, RESULT_1, stopped("c2")]
    assert loaded.warnings == [
        "line 3: 1 tool call(s) had no result (codive stopped first); marked as interrupted"
    ]
    assert store.load(session.id).messages == loaded.messages  # loading writes nothing
    assert store.load(session.id).warnings == loaded.warnings

    loaded.append(ChatMessage("user", "go on"))  # continuing saves the repair first
    loaded.close()
    again = store.load(session.id)
    assert again.messages == [ASK, CALLS, RESULT_1, stopped("c2"), ChatMessage("user", "go on")]
    assert again.warnings == []


def test_missing_tool_results_in_the_middle_are_repaired(
    store: SessionStore, workspace: Path
) -> None:
    session = conversation(store, workspace, ASK, CALLS, THREE)
    loaded = store.load(session.id)
    assert loaded.messages == [ASK, CALLS, stopped("c1"), stopped("c2"), THREE]
    assert len(loaded.warnings) == 1


def test_tool_results_without_their_call_are_dropped(store: SessionStore, workspace: Path) -> None:
    session = conversation(store, workspace, ASK)
    write_lines(session, record_line(CALLS)[:40] + b"\n", record_line(RESULT_1))
    loaded = store.load(session.id)
    assert loaded.messages == [ASK]
    assert loaded.warnings == [
        "line 3: not valid JSON, skipped",
        "line 4: tool result for no open call, dropped",
    ]


# --- compaction ------------------------------------------------------------------------------


def test_compaction_is_saved_and_rebuilt(store: SessionStore, workspace: Path) -> None:
    assert SUMMARY_PREFIX == context.SUMMARY_PREFIX
    system = ChatMessage("system", "You are codive.")
    turns = [ChatMessage("user" if i % 2 else "assistant", f"m{i}") for i in range(1, 9)]
    session = store.create(workspace)
    for message in [system, *turns]:
        session.append(message)
    session.append(ChatMessage("assistant", "partial"), interrupted=True)
    session.compact("they talked", keep=3)
    summary = ChatMessage("user", SUMMARY_PREFIX + "they talked")
    expected = [system, summary, turns[-2], turns[-1], ChatMessage("assistant", "partial")]
    assert session.messages == expected
    assert session.interrupted_indexes == {4}

    session.append(ChatMessage("user", "after"))
    session.compact("second summary", keep=1)
    session.close()
    final = [system, ChatMessage("user", SUMMARY_PREFIX + "second summary")]
    final.append(ChatMessage("user", "after"))
    loaded = store.load(session.id)
    assert loaded.messages == final
    assert loaded.interrupted_indexes == set()
    assert loaded.warnings == []
    assert loaded.title == "m1"  # the first real question, not the summary
    assert store.list(workspace)[0].messages == 3


def test_compaction_keeping_nothing_and_more_than_there_is(
    store: SessionStore, workspace: Path
) -> None:
    session = conversation(store, workspace, ONE, TWO)
    loaded = store.load(session.id)
    loaded.compact("all of it", keep=0)
    assert loaded.messages == [ChatMessage("user", SUMMARY_PREFIX + "all of it")]
    loaded.compact("again", keep=10)
    loaded.close()
    assert store.load(session.id).messages == [
        ChatMessage("user", SUMMARY_PREFIX + "again"),
        ChatMessage("user", SUMMARY_PREFIX + "all of it"),
    ]


def test_compaction_matches_what_context_compact_builds(
    store: SessionStore, workspace: Path
) -> None:
    messages = [
        ChatMessage("system", "sys"),
        ASK,
        CALLS,
        RESULT_1,
        ChatMessage("tool", "b", tool_call_id="c2"),
        ChatMessage("assistant", "both read"),
        ChatMessage("user", "now fix"),
        ChatMessage("assistant", "fixed"),
        ChatMessage("user", "thanks"),
    ]
    system, _, recent = context.split(messages, keep_turns=2)
    built = [*system, ChatMessage("user", context.SUMMARY_PREFIX + "s"), *recent]
    session = conversation(store, workspace, *messages)
    loaded = store.load(session.id)
    loaded.compact("s", len(recent))
    assert loaded.messages == built
    loaded.close()
    assert store.load(session.id).messages == built


# --- killed mid-write ------------------------------------------------------------------------

ITERATIONS = 120


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the writer forks")
@pytest.mark.timeout(60)
def test_a_writer_killed_at_random_loses_at_most_the_message_in_flight(tmp_path: Path) -> None:
    rng = random.Random(20250301)
    counts = {"torn": 0, "in_flight_landed": 0, "messages": 0, "bytes": 0}
    started_at = time.monotonic()
    with subprocess.Popen(
        [sys.executable, str(Path(session_writer.__file__))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        for seed in range(ITERATIONS):
            root = tmp_path / f"run{seed}"
            server.stdin.write(f"{root} {seed}\n")
            server.stdin.flush()
            word, pid, session_id = server.stdout.readline().split()
            assert word == "started"
            time.sleep(rng.uniform(0, 0.05))
            os.kill(int(pid), signal.SIGKILL)
            wrote = -1
            while not (line := server.stdout.readline()).startswith("ended"):
                assert line.startswith("wrote"), line
                wrote = int(line.split()[1])
            assert line.split()[2] == str(signal.SIGKILL), "the writer failed, not killed"
            check_survivor(SessionStore(root), session_id, seed, wrote, counts)
        server.stdin.close()  # the server's loop ends; leaving the block waits for it
    print(
        f"\n{ITERATIONS} kills in {time.monotonic() - started_at:.1f}s: {counts['torn']} torn"
        f" last lines, {counts['in_flight_landed']} in-flight messages that landed,"
        f" {counts['messages']} messages and {counts['bytes'] / 1e6:.0f} MB verified"
    )


def check_survivor(
    store: SessionStore, session_id: str, seed: int, wrote: int, counts: dict[str, int]
) -> None:
    session = store.load(session_id)
    count = len(session.messages)
    assert session.messages == [session_writer.message(seed, i) for i in range(count)]
    assert wrote + 1 <= count <= wrote + 2, (wrote, count)  # only the one in flight is lost
    assert len(session.warnings) <= 1, session.warnings
    assert all("the last write was cut short" in w for w in session.warnings), session.warnings
    counts["torn"] += len(session.warnings)
    counts["in_flight_landed"] += count == wrote + 2
    counts["messages"] += count
    counts["bytes"] += session.path.stat().st_size

    resumed = ChatMessage("user", "resumed")  # and it goes on cleanly after the crash
    session.append(resumed)
    session.close()
    again = store.load(session_id)
    assert again.messages == [*session.messages]
    assert again.messages[-1] == resumed
    assert len(again.warnings) == len(session.warnings)
    session.path.unlink()
