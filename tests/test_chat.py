"""The chat loop in-process: compaction, slash commands, usage, sessions."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from codive_cli.agent.compaction import SUMMARY_INSTRUCTIONS, SUMMARY_PREFIX
from codive_cli.agent.loop import Agent
from codive_cli.conversation.chat import Chat
from codive_cli.conversation.session import SessionStore
from codive_cli.errors import ConfigError, ContextTooLong
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Policy, deny_without_terminal
from codive_cli.provider import ChatMessage, ModelInfo, Provider, ProviderConfig, Usage
from codive_cli.providers.scripted import Reply, ScriptedProvider
from codive_cli.providers.text_tools import TextToolsProvider
from codive_cli.tools.base import ToolContext
from codive_cli.tools.bash import BashTool
from codive_cli.tools.files import EditFileTool, ReadFileTool
from codive_cli.tools.search import GrepTool
from codive_cli.ui.chat_view import ConsoleOutput
from codive_cli.ui.render import PlainRenderer
from codive_cli.ui.turn import Turn


class TinyWindow(ScriptedProvider):
    """A scripted model with a 100-token context window and prices."""

    def available_models(self) -> list[ModelInfo]:
        return [ModelInfo("scripted-model", "Scripted", 100, 50, 1.0, 2.0, "scripted")]


class Lines:
    editable = False

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)

    async def read(self, default: str = "") -> str | None:
        return self.lines.pop(0) if self.lines else None


def build(tmp_path: Path, provider: ScriptedProvider) -> tuple[Chat, io.StringIO, SessionStore]:
    (tmp_path / "work").mkdir()
    root = (tmp_path / "work").resolve()
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None)
    agent = Agent(
        provider, [], ToolContext(root, WorkspaceGuard(root)), policy=Policy("ask"), system="sys"
    )
    store = SessionStore(tmp_path / "sessions")
    session = store.create(root, provider="scripted", model="scripted-model")
    for message in agent.messages:
        session.append(message)

    async def switch(name: str | None, model: str | None) -> Provider:
        fresh = TinyWindow(
            ProviderConfig("scripted", model=model or "other-model", label=name or "")
        )
        fresh.enqueue("from the new model")
        return fresh

    def turn() -> Turn:
        return Turn(PlainRenderer(io.StringIO()), deny_without_terminal)

    chat = Chat(agent, session, store, ConsoleOutput(console, turn), switch_provider=switch)
    return chat, out, store


def big(text: str, tokens: int) -> Reply:
    return Reply(text, usage=Usage(tokens, 5))


@pytest.fixture
def provider() -> Iterator[TinyWindow]:
    yield TinyWindow()


async def test_nearing_the_window_compacts_before_the_next_turn(
    tmp_path: Path, provider: TinyWindow
) -> None:
    chat, out, store = build(tmp_path, provider)
    provider.enqueue(
        big("one", 20), big("two", 30), big("three", 90), "SUMMARY: we said 1-3", "four"
    )
    await chat.run(Lines("first", "second", "third", "fourth"))
    summary_request, fourth = provider.requests[3], provider.requests[4]
    assert summary_request.messages[0].content == SUMMARY_INSTRUCTIONS
    assert "user: first" in summary_request.messages[1].content
    assert summary_request.tools == []
    roles = [(m.role, m.content) for m in fourth.messages]
    assert roles[0] == ("system", "sys")
    assert roles[1] == ("user", SUMMARY_PREFIX + "SUMMARY: we said 1-3")
    assert roles[2:] == [
        ("user", "second"),
        ("assistant", "two"),
        ("user", "third"),
        ("assistant", "three"),
        ("user", "fourth"),
    ]
    assert "compacted" in out.getvalue()
    reloaded = store.load(chat.session.id)
    assert [(m.role, m.content) for m in reloaded.messages] == [*roles, ("assistant", "four")]


async def test_context_too_long_compacts_once_and_retries(
    tmp_path: Path, provider: TinyWindow
) -> None:
    chat, out, _ = build(tmp_path, provider)
    provider.enqueue("a", "b", ContextTooLong("too long", max=100, actual=120), "SUM", "answer")
    await chat.run(Lines("one", "two", "three"))
    last = provider.requests[-1].messages
    assert [m.content for m in last if m.role == "user"][-1] == "three"
    assert last[1].content == SUMMARY_PREFIX + "SUM"
    assert "no longer fits" in out.getvalue()
    assert sum(1 for m in chat.agent.messages if m.content == "three") == 1


async def test_usage_counts_summaries_and_unpriced_models(
    tmp_path: Path, provider: TinyWindow
) -> None:
    chat, out, _ = build(tmp_path, provider)
    provider.enqueue(big("a", 10), big("b", 10), big("c", 10), "SUM")
    await chat.run(Lines("one", "two", "three", "/compact", "/usage"))
    text = out.getvalue()
    # /compact keeps the latest two turns, as the automatic compaction does (docs/chat.md)
    assert "compacted: older turns summarised; the latest 2 turns kept" in text
    # 4 calls of the priced model: 4 x 10 in, 4 x 5 out at $1/$2 per million
    assert "scripted-model: 40 in · 20 out · $0.0001" in text  # $0.00008, rounded
    chat.spend.add("mystery", Usage(5, 5), None)
    await chat.command("/usage")
    assert "mystery: 5 in · 5 out · unpriced" in out.getvalue()


async def test_model_switch_keeps_the_conversation(tmp_path: Path, provider: TinyWindow) -> None:
    chat, out, _ = build(tmp_path, provider)
    provider.enqueue("first answer")
    await chat.run(Lines("hi", "/model bigger-model -p other", "again"))
    assert chat.agent.provider is not provider
    assert chat.agent.provider.config.model == "bigger-model"
    sent = chat.agent.provider.requests[0].messages  # type: ignore[attr-defined]
    assert [m.content for m in sent if m.role != "system"] == ["hi", "first answer", "again"]
    assert "now using other / bigger-model" in out.getvalue()


async def test_clear_sessions_save_permissions_and_exit(
    tmp_path: Path, provider: TinyWindow
) -> None:
    chat, out, store = build(tmp_path, provider)
    provider.enqueue("hello back", "fresh start")
    first = chat.session.id
    await chat.run(
        Lines(
            "hello",
            "/clear",
            "again",
            "/sessions",
            "/save notes.md",
            "/permissions full",
            "/nope",
            "/exit",
            "never read",
        )
    )
    assert chat.session.id != first
    assert [m.content for m in provider.requests[1].messages] == ["sys", "again"]
    text = out.getvalue()
    assert first in text and chat.session.id in text  # /sessions lists both
    assert (tmp_path / "work" / "notes.md").read_text().startswith("**user**\n\nagain")
    assert chat.agent.policy.mode == "full" and "mode full" in text
    assert "unknown command /nope" in text
    assert len(store.list(chat.root)) == 2


async def test_history_shows_the_latest_messages(tmp_path: Path, provider: TinyWindow) -> None:
    chat, out, _ = build(tmp_path, provider)
    provider.enqueue("first answer", "second answer")
    await chat.run(Lines("one", "two", "/history 2"))
    text = out.getvalue()
    shown = text[text.index("the latest 2 of 4 messages") :]
    assert "**user**\n\ntwo" in shown and "second answer" in shown
    assert "first answer" not in shown


async def test_at_mentions_attach_workspace_files(tmp_path: Path, provider: TinyWindow) -> None:
    chat, out, _ = build(tmp_path, provider)
    (chat.root / "notes.txt").write_text("remember the milk")
    (tmp_path / "outside.txt").write_text("secret")
    provider.enqueue("ok")
    await chat.run(Lines("summarise @notes.txt and @../outside.txt and @missing.txt"))
    sent = provider.requests[0].messages[-1].content
    assert '<file path="notes.txt">\nremember the milk\n</file>' in sent
    assert "secret" not in sent
    assert "attached notes.txt" in out.getvalue()


async def test_permissions_ask_after_full_hides_secrets_from_grep(tmp_path: Path) -> None:
    """The mode is read from the one policy on every call: /permissions changes what grep
    may search at once, not at the next start."""
    root = (tmp_path / "work").resolve()
    root.mkdir()
    (root / ".env").write_text("TOKEN=hunter2\n")
    (root / "app.py").write_text("print('hunter2 is not here')\n")
    policy = Policy("full")
    provider = ScriptedProvider()
    search = Reply("", [("grep", {"pattern": "hunter2"})])
    provider.enqueue(search, "found it", search, "found less")
    guard = WorkspaceGuard(root)
    context = ToolContext(root, guard, policy=policy)
    agent = Agent(provider, [GrepTool()], context, policy=policy, system="sys")
    store = SessionStore(tmp_path / "sessions")
    session = store.create(root, provider="scripted", model="scripted-model")
    out = io.StringIO()

    def turn() -> Turn:
        return Turn(PlainRenderer(io.StringIO()), deny_without_terminal)

    output = ConsoleOutput(Console(file=out, width=80, color_system=None), turn)
    chat = Chat(agent, session, store, output, switch_provider=ScriptedSwitch())
    await chat.run(Lines("where is hunter2?", "/permissions ask", "and now?"))
    first, second = (m.content for m in agent.messages if m.role == "tool")
    assert "TOKEN=hunter2" in first and "app.py" in first
    assert "TOKEN=hunter2" not in second and "app.py" in second
    assert "matches in .env were left out" in second
    assert "mode ask" in out.getvalue()


class ScriptedSwitch:
    async def __call__(self, name: str | None, model: str | None) -> Provider:
        raise AssertionError("no /model in this test")


async def test_model_switch_between_text_and_native_tool_formats(tmp_path: Path) -> None:
    """The conversation is kept in one (native) form; the text-format endpoint's wrapper
    translates at the wire, so /model works both ways mid-conversation."""
    root = (tmp_path / "work").resolve()
    root.mkdir()
    (root / "notes.txt").write_text("the code word is swordfish\n")
    native = ScriptedProvider(ProviderConfig("scripted", model="native-model"))
    native.enqueue(Reply("", [("read_file", {"path": "notes.txt"})]), "swordfish")
    texty = ScriptedProvider(ProviderConfig("scripted", model="text-model"))
    call = '<tool_call>{"name": "read_file", "arguments": {"path": "notes.txt"}}</tool_call>'
    texty.enqueue(Reply("Reading again.\n" + call), "still swordfish")
    later = ScriptedProvider(ProviderConfig("scripted", model="native-again"))
    later.enqueue("done")
    providers: list[Provider] = [TextToolsProvider(texty), later]

    async def switch(name: str | None, model: str | None) -> Provider:
        return providers.pop(0)

    policy = Policy("ask")
    context = ToolContext(root, WorkspaceGuard(root), policy=policy)
    agent = Agent(native, [ReadFileTool()], context, policy=policy, system="sys")
    store = SessionStore(tmp_path / "sessions")
    session = store.create(root, provider="scripted", model="native-model")

    def turn() -> Turn:
        return Turn(PlainRenderer(io.StringIO()), deny_without_terminal)

    output = ConsoleOutput(Console(file=io.StringIO(), width=80), turn)
    chat = Chat(agent, session, store, output, switch_provider=switch)
    await chat.run(Lines("code word?", "/model text-model", "again?", "/model x", "thanks"))

    to_text = texty.requests[0]
    assert to_text.tools == [] and all(m.role != "tool" for m in to_text.messages)
    assert any("<tool_result" in m.content and "swordfish" in m.content for m in to_text.messages)
    assert any("- read_file:" in m.content for m in to_text.messages if m.role == "system")
    assert "swordfish" in texty.requests[1].messages[-1].content  # the text call ran
    back = later.requests[0]
    assert [t.name for t in back.tools] == ["read_file"]
    calls = [c for m in back.messages for c in m.tool_calls]
    results = [m.tool_call_id for m in back.messages if m.role == "tool"]
    assert len(calls) == 2 and [c.id for c in calls] == results  # every call answered, natively
    assert all("<tool_call>" not in m.content for m in back.messages)


async def test_hints_keep_brackets_and_rules_read_as_written(
    tmp_path: Path, provider: TinyWindow
) -> None:
    chat, out, _ = build(tmp_path, provider)
    hint = "set OPENAI_API_KEY or [provider] api_key in codive.toml"
    chat.error(ConfigError("no key for openai", hint=hint))
    chat.agent.policy.remember(EditFileTool(), {"path": "a.py"})
    chat.agent.policy.remember(BashTool(), {"command": "make test"})
    await chat.command("/permissions")
    text = out.getvalue()
    assert hint in text  # not eaten as Rich markup
    assert "allow: edit_file, bash(make test)" in text and "None" not in text


async def test_sessions_leaves_out_empty_ones(tmp_path: Path, provider: TinyWindow) -> None:
    chat, out, store = build(tmp_path, provider)
    with store.create(chat.root, provider="scripted", model="m") as empty:
        empty.append(ChatMessage("system", "sys"))  # started, nothing asked
    with store.create(chat.root, provider="scripted", model="m") as used:
        used.append(ChatMessage("user", "a real question"))
    await chat.command("/sessions")
    text = out.getvalue()
    assert used.id in text and "a real question" in text
    assert empty.id not in text
    assert chat.session.id in text  # the current one, even before anything is asked


class UnknownWindow(ScriptedProvider):
    """A model codive knows nothing about: no catalogue entry, no window."""

    def available_models(self) -> list[ModelInfo]:
        return []


@pytest.mark.parametrize("assumed", [100, 0])
async def test_a_model_with_an_unknown_window_compacts_at_the_assumed_one(
    tmp_path: Path, assumed: int
) -> None:
    provider = UnknownWindow()
    chat, out, _ = build(tmp_path, provider)
    chat.agent.assumed_context_window = assumed
    # No token usage reported: the conversation's size is estimated (4 characters a token).
    provider.enqueue(*(Reply("x" * 400, usage=Usage()) for _ in range(3)), "SUM", "four")
    await chat.run(Lines("one", "two", "three", "four"))
    if assumed:
        assert "of 100 (assumed: the model's window is unknown) context tokens used" in (
            out.getvalue()
        )
        assert provider.requests[3].messages[0].content == SUMMARY_INSTRUCTIONS
        assert provider.requests[4].messages[1].content == SUMMARY_PREFIX + "SUM"
    else:
        assert "compacted" not in out.getvalue()
        assert all(r.messages[0].content == "sys" for r in provider.requests)


def test_the_documented_assumed_window_is_the_code_default() -> None:
    from codive_cli.agent.compaction import ASSUMED_CONTEXT_WINDOW
    from codive_cli.settings.schema import AgentSettings

    assert AgentSettings().assumed_context_window == ASSUMED_CONTEXT_WINDOW


def test_prompt_history_is_private_and_never_stops_the_chat(tmp_path: Path) -> None:
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    from codive_cli.ui.repl import prompt_history

    kept = tmp_path / "dotfiles" / "history"
    kept.parent.mkdir()
    kept.write_text("")
    kept.chmod(0o644)  # as an older codive left it
    link = tmp_path / "data" / "history"
    link.parent.mkdir()
    link.symlink_to(kept)
    assert isinstance(prompt_history(link), FileHistory)
    assert kept.stat().st_mode & 0o777 == 0o600
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert isinstance(prompt_history(blocked / "history"), InMemoryHistory)
