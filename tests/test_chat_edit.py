"""Taking a prompt back in the chat: /edit (and its Esc Esc), and a turn that failed before
the model answered; `--resume` without an id."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

from rich.console import Console

from codive_cli.agent.compaction import REQUEST_MARK, SUMMARY_PREFIX
from codive_cli.cli import bare_resume
from codive_cli.conversation.edit import taken_apart
from codive_cli.conversation.session import SessionInfo
from codive_cli.errors import ApiError, AuthError, ContextTooLong, NetworkError
from codive_cli.provider import ChatMessage, Usage
from codive_cli.providers.scripted import Reply, ScriptedProvider
from codive_cli.ui.pick import age, pick_session
from tests.test_chat import TinyWindow, build
from tests.test_checkpoints import CHANGES, Rig, state, workspace


class Typed:
    """A line source like the terminal's: it can put text in the input (`default`), and
    records what it was asked to put there."""

    editable = True

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)  # typed after what is in the input; "^C" clears it, and a
        # command is typed in its place
        self.defaults: list[str] = []

    async def read(self, default: str = "") -> str | None:
        self.defaults.append(default)
        if not self.lines:
            return None
        line = self.lines.pop(0)
        if line == "^C":
            return ""
        return line if line.startswith("/") else default + line


class Piped(Typed):
    """Lines from a pipe: what is offered for the input is not used."""

    editable = False

    async def read(self, default: str = "") -> str | None:
        self.defaults.append(default)
        return self.lines.pop(0) if self.lines else None


def alternates(messages: list[ChatMessage]) -> bool:
    """User and assistant take turns (a compaction's summary goes with the prompt after it:
    see agent/compaction.rebuild)."""
    said = [m for m in messages if m.role != "system" and not m.content.startswith(SUMMARY_PREFIX)]
    roles = [m.role for m in said]
    return all(a != b for a, b in itertools.pairwise(roles)) and roles[0] == "user"


def conversation(messages: list[ChatMessage]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


def test_a_prompt_is_taken_apart_from_its_attachments_and_notes() -> None:
    sent = 'fix @a.py\nplease\n\n<file path="a.py">\nx = 1\n\n</file>\n\n[codive: undone]'
    assert taken_apart(sent) == ("fix @a.py\nplease", ["[codive: undone]"])
    assert taken_apart("[codive: only a note]") == ("[codive: only a note]", [])
    assert taken_apart("a\n\nb") == ("a\n\nb", [])


async def test_a_turn_that_fails_before_the_answer_leaves_the_conversation(
    tmp_path: Path,
) -> None:
    provider = TinyWindow()
    chat, out, store = build(tmp_path, provider)
    provider.enqueue("one", NetworkError("connection refused"), "two", "three")
    source = Typed("first", "second", "", "third")  # "" sends what is in the input
    await chat.run(source)
    assert source.defaults == ["", "", "second", "", ""]  # the failed prompt came back
    assert "error: not sent: connection refused; the prompt is back in the input" in out.getvalue()
    retried, third = provider.requests[2].messages, provider.requests[3].messages
    assert conversation(retried)[1:] == [
        ("user", "first"),
        ("assistant", "one"),
        ("user", "second"),
    ]
    assert alternates(third) and [m.content for m in third].count("second") == 1
    reloaded = store.load(chat.session.id)
    assert conversation(reloaded.messages) == conversation(chat.agent.messages)
    assert alternates(reloaded.messages)


async def test_after_a_failed_turn_a_pipe_goes_on_with_the_next_line(tmp_path: Path) -> None:
    for error in (AuthError("invalid x-api-key", status=401), ApiError("HTTP 500", status=500)):
        provider = TinyWindow()
        (tmp_path / error.message).mkdir()
        chat, out, store = build(tmp_path / error.message, provider)
        provider.enqueue("one", error, "three")
        await chat.run(Piped("first", "second", "third"))
        assert f"error: not sent: {error.message}\n" in out.getvalue()
        sent = provider.requests[-1].messages
        assert [m.content for m in sent if m.role == "user"] == ["first", "third"]
        assert alternates(sent)
        assert conversation(store.load(chat.session.id).messages)[-1] == ("assistant", "three")


async def test_a_turn_that_fails_after_running_tools_is_kept(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    provider = ScriptedProvider()
    provider.enqueue(Reply("", [CHANGES[0]]), NetworkError("gone"), "next")
    rig = Rig(tmp_path, root, provider)
    said = await rig.run("change it", "and now?")
    assert "error: gone" in said and "not sent" not in said
    sent = provider.requests[-1].messages
    assert [m.role for m in sent] == ["system", "user", "assistant", "tool", "user"]


async def test_context_too_long_twice_puts_the_prompt_back(tmp_path: Path) -> None:
    provider = TinyWindow()
    chat, out, store = build(tmp_path, provider)
    too_long = ContextTooLong("too long", max=100, actual=120)
    provider.enqueue("a", "b", too_long, "SUM", ApiError("HTTP 503", status=503), "c", "d")
    source = Typed("one", "two", "three", "", "four")
    await chat.run(source)
    assert source.defaults[3] == "three"
    assert "not sent: HTTP 503; the prompt is back in the input" in out.getvalue()
    assert alternates(provider.requests[-1].messages)
    assert conversation(store.load(chat.session.id).messages) == conversation(chat.agent.messages)


async def test_edit_puts_the_last_prompt_back_and_replaces_it(tmp_path: Path) -> None:
    provider = TinyWindow()
    chat, out, store = build(tmp_path, provider)
    provider.enqueue("one", "two", "two again")
    source = Typed("first", "second", "/edit", " (shorter)")
    await chat.run(source)
    assert source.defaults == ["", "", "", "second", ""]
    assert "editing your last prompt" in out.getvalue()
    assert "dropped the answer to your last prompt" in out.getvalue()
    sent = conversation(provider.requests[-1].messages)
    assert sent[1:] == [("user", "first"), ("assistant", "one"), ("user", "second (shorter)")]
    expected = [*sent, ("assistant", "two again")]
    assert conversation(chat.agent.messages) == expected
    assert conversation(store.load(chat.session.id).messages) == expected


async def test_an_edit_cleared_or_followed_by_a_command_changes_nothing(tmp_path: Path) -> None:
    provider = TinyWindow()
    chat, out, _ = build(tmp_path, provider)
    provider.enqueue("one", "two")
    source = Typed("first", "/edit", "^C", "/edit", "/usage", "next")
    await chat.run(source)
    assert source.defaults[2:5] == ["first", "", "first"]
    assert "dropped the answer" not in out.getvalue()
    users = [m.content for m in chat.agent.messages if m.role == "user"]
    assert users == ["first", "next"]


async def test_edit_from_a_pipe(tmp_path: Path) -> None:
    provider = TinyWindow()
    chat, out, store = build(tmp_path, provider)
    provider.enqueue("one", "two", "three", "four")
    await chat.run(Piped("/edit nothing yet", "first", "second", "/edit 2nd", "/edit", "3rd"))
    assert "nothing to edit yet" in out.getvalue()
    assert "the next line replaces your last prompt" in out.getvalue()
    users = [m.content for m in chat.agent.messages if m.role == "user"]
    assert users == ["first", "3rd"]
    assert alternates(provider.requests[-1].messages)
    assert conversation(store.load(chat.session.id).messages) == conversation(chat.agent.messages)


async def test_editing_a_turn_that_changed_files_keeps_them_and_offers_undo(
    tmp_path: Path,
) -> None:
    root = workspace(tmp_path)
    provider = ScriptedProvider()
    provider.enqueue(Reply("", [CHANGES[0]]), "changed", "talked")
    rig = Rig(tmp_path, root, provider)
    original = state(root)
    await rig.run("make it bonjour")
    changed = state(root)
    said = await rig.run("/edit just explain it")
    assert "the files it changed stay as they are (/undo puts them back)" in said
    assert state(root) == changed != original  # nothing put back behind the person's back
    sent = provider.requests[-1].messages[-1].content
    assert sent.startswith("just explain it\n\n[codive: the person edited their previous")

    rig.chat.session.close()
    resumed = rig.store.load(rig.chat.session.id, lock=True)
    assert [m.content for m in resumed.messages] == [m.content for m in rig.agent.messages]
    rig.chat = rig.chat_on(resumed)  # its checkpoint survives: /undo still puts files back
    assert "undone" in await rig.run("/undo")
    assert state(root) == original


def test_bare_resume_gets_the_pick_marker() -> None:
    assert bare_resume(["chat", "--resume"], "?") == ["chat", "--resume", "?"]
    assert bare_resume(["chat", "--resume", "-p", "x"], "?") == ["chat", "--resume", "?", "-p", "x"]
    assert bare_resume(["chat", "--resume", "2025"], "?") == ["chat", "--resume", "2025"]
    assert bare_resume(["chat", "--resume=2025"], "?") == ["chat", "--resume=2025"]
    assert bare_resume(["complete", "--", "--resume"], "?") == ["complete", "--", "--resume"]


def test_the_picker_lists_sessions_and_asks_for_a_number() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    sessions = [
        SessionInfo("a", Path("a"), "/w", "", 1000 - 120, "fix the tests", 4),
        SessionInfo("b", Path("b"), "/w", "", 1000 - 3 * 86_400, "add a flag", 1),
    ]
    answers = iter(["9", "x", "2"])
    picked = pick_session(console, sessions, lambda _: next(answers), now=1000)
    assert picked is sessions[1]
    assert "  1  fix the tests  2 minutes ago · 4 messages" in out.getvalue()
    assert "  2  add a flag  3 days ago · 1 message" in out.getvalue()
    assert out.getvalue().count("a number from 1 to 2") == 2
    assert pick_session(console, sessions, lambda _: "", now=1000) is None
    assert age(5) == "just now" and age(3600) == "1 hour ago"


# A turn that runs many tools compacts its own older steps (agent/loop.py); the chat keeps it.
READ = ("read_file", {"path": "app.py"})


def _steps_then(*after: object, before: tuple[str, ...] = ()) -> TinyWindow:
    """Three reads, the third using 90 of the window's 100 tokens: the run compacts."""
    provider = TinyWindow()
    provider.enqueue(
        *before,
        Reply("", [READ], usage=Usage(10, 5)),
        Reply("", [CHANGES[0]], usage=Usage(20, 5)),
        Reply("", [READ], usage=Usage(90, 5)),
        "SUMMARY",
        *after,  # type: ignore[arg-type]
    )
    return provider


async def test_a_chat_turn_compacts_its_own_steps_and_keeps_its_checkpoint(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    provider = _steps_then(Reply("Changed it.", usage=Usage(30, 5)), Reply("ok", usage=Usage(9, 5)))
    rig = Rig(tmp_path, root, provider)
    said = await rig.run("say bonjour", "thanks")
    # The turn's checkpoint is tied to no message: where it began was compacted away.
    assert rig.chat.checkpoints is not None
    assert [c.at for c in rig.chat.checkpoints.list] == [None]
    said += await rig.run("/undo")
    after = provider.requests[4].messages  # the step after the summary
    assert after[1].content == SUMMARY_PREFIX + "SUMMARY" + REQUEST_MARK + "say bonjour"
    assert [m.role for m in after[2:]] == ["assistant", "tool", "assistant", "tool"]
    assert [m.content for m in provider.requests[5].messages if m.role == "user"][-1] == "thanks"
    reloaded = rig.store.load(rig.chat.session.id)
    assert conversation(reloaded.messages) == conversation(rig.agent.messages)
    assert "not sent" not in said and "error" not in said
    assert "print('hello')" in (root / "app.py").read_text()  # /undo put the edit back
    spent = sum(usage.input_tokens for usage in rig.chat.spend.by_model.values())
    assert spent == 10 + 20 + 90 + 10 + 30 + 9  # the summary's call (10) counts


async def test_a_chat_turn_that_compacted_then_failed_is_kept(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    # Three turns first: the compacted conversation is shorter than it was when the turn began.
    provider = _steps_then(NetworkError("gone"), "next", before=("a", "b", "c"))
    rig = Rig(tmp_path, root, provider)
    said = await rig.run("one", "two", "three", "say bonjour", "and now?")
    assert "error: gone" in said and "not sent" not in said and "back in the input" not in said
    sent = provider.requests[-1].messages
    assert [m.role for m in sent] == ["system", "user", *["assistant", "tool"] * 2, "user"]
    assert sent[-1].content == "and now?"
    assert "bonjour" in (root / "app.py").read_text()  # the turn ran: its edit stays


async def test_a_chat_turn_that_compacted_then_no_longer_fits_is_not_asked_again(
    tmp_path: Path,
) -> None:
    root = workspace(tmp_path)
    too_long = ContextTooLong("too long", max=100, actual=120)
    provider = _steps_then(too_long, "next")
    rig = Rig(tmp_path, root, provider)
    said = await rig.run("say bonjour", "and now?")
    assert "too long" in said
    assert [m.content for m in provider.requests[-1].messages if m.role == "user"][-1] == "and now?"
    after_summary = [m.content for r in provider.requests[4:] for m in r.messages]
    assert "say bonjour" not in after_summary  # not asked again after the summary
