"""`codive chat`: wiring the REPL to settings, provider, agent and session."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from codive_cli.app import lifetime
from codive_cli.app.wiring import (
    AgentOptions,
    Endpoint,
    SessionChoice,
    approver,
    attach_mcp,
    build_agent,
    codive_folders,
    fit_tools_to_model,
    open_provider,
    open_session,
    warn_untrusted,
)
from codive_cli.conversation.checkpoints import Checkpoints
from codive_cli.conversation.session import Session, SessionStore
from codive_cli.errors import ConfigError
from codive_cli.policy.modes import Mode
from codive_cli.provider import Provider
from codive_cli.providers import create_provider
from codive_cli.settings.loading import load_settings, project_config_path, read_config_file
from codive_cli.settings.resolve import resolve_provider
from codive_cli.settings.schema import Settings
from codive_cli.ui.live import LiveRenderer
from codive_cli.ui.render import PlainRenderer
from codive_cli.ui.report import Reporter
from codive_cli.ui.safe import plain
from codive_cli.ui.turn import Turn


@dataclass(frozen=True)
class ChatOptions:
    endpoint: Endpoint = field(default_factory=Endpoint)
    permission_mode: Mode | None = None
    continue_last: bool = False
    resume: str | None = None
    pick: bool = False  # `--resume` without an id: ask which session


def chat_command(options: ChatOptions) -> int:
    if sys.stdin is None:  # started with stdin closed (`<&-`): neither a terminal nor a pipe
        raise ConfigError(
            "codive chat has no input: stdin is closed",
            hint="run it in a terminal, pipe the prompts in (echo 'explain this' | codive chat),"
            ' or ask once with codive complete "..."',
        )
    settings, _ = load_settings()
    if settings.untrusted_keys and _ask_to_trust(settings):
        settings, _ = load_settings()
    if options.pick:
        try:
            options = replace(options, resume=_pick_session(), pick=False)
        except EOFError:
            return 0  # Ctrl-D at the question leaves, as it does at the prompt
    provider = open_provider(settings, options.endpoint)
    return lifetime.run(_chat(provider, options, settings))


async def _chat(provider: Provider, options: ChatOptions, settings: Settings) -> int:
    from codive_cli.conversation.chat import Chat
    from codive_cli.ui.chat_view import ConsoleOutput
    from codive_cli.ui.repl import LineSource, TerminalSource, interactive

    tty = interactive()
    console = Console(highlight=False)
    reporter = Reporter(Console(stderr=True, highlight=False))
    warn_untrusted(settings, reporter)
    provider.on_notice = reporter.note
    agent_options = AgentOptions(permission_mode=options.permission_mode)
    agent = build_agent(provider, settings, agent_options, reporter.warn)
    store = SessionStore()
    choice = SessionChoice(options.continue_last, options.resume)
    session = open_session(store, agent, choice, reporter)
    if any(message.role != "system" for message in session.messages):  # going on with one
        _replay(console, session, tty, reporter)

    def turn() -> Turn:
        if tty:
            live = LiveRenderer(console, thinking_hint="/thinking shows it")
            return Turn(live, approver(ask=True))
        return Turn(
            PlainRenderer(sys.stdout),
            approver(ask=True),
            tool_line=reporter.tool,
            note=reporter.note,
        )

    switch = _switcher(settings, options, reporter, lambda: chat.agent.provider)
    output = ConsoleOutput(console, turn)
    checkpoints = _checkpoints(agent.context.root, session, store)
    chat = Chat(agent, session, store, output, switch_provider=switch, checkpoints=checkpoints)
    if tty:
        chat.note(
            f"codive {provider.config.display_name} / {provider.config.model or 'default'}"
            f" · session {session.id} · /help for commands"
        )
    source = TerminalSource(agent.context.root, _history_file()) if tty else LineSource()
    async with contextlib.AsyncExitStack() as servers:
        try:
            await reporter.while_starting(provider)
            await attach_mcp(agent, settings, servers, reporter)
            fit_tools_to_model(agent, provider, agent_options, reporter)
            await chat.run(source)
        finally:
            await chat.agent.provider.aclose()
            chat.session.sync()
            chat.session.close()
    return 0


def _checkpoints(root: Path, session: Session, store: SessionStore) -> Checkpoints:
    """Snapshots for /undo, /rewind and /diff, with those the session recorded."""
    folders = tuple(codive_folders())
    checkpoints = Checkpoints(root, session.id, protected=folders, sessions=store.root)
    checkpoints.start(session.id, session.checkpoints)
    return checkpoints


def _switcher(
    settings: Settings,
    options: ChatOptions,
    reporter: Reporter,
    current: Callable[[], Provider],
) -> Callable[[str | None, str | None], Awaitable[Provider]]:
    """/model: the provider to go on with (started), the one in use closed."""

    async def switch(name: str | None, model: str | None) -> Provider:
        config = resolve_provider(
            settings,
            name or current().config.label,
            model=model,
            base_url=options.endpoint.base_url if name is None else None,
        )
        fresh = create_provider(config)
        fresh.on_notice = reporter.note
        await reporter.while_starting(fresh)
        await current().aclose()
        return fresh

    return switch


def _replay(console: Console, session: Session, tty: bool, reporter: Reporter) -> None:
    """Show the end of the conversation being continued, on a terminal only: a pipe's output
    is the new answers alone. What loading repaired goes to stderr either way."""
    for warning in session.warnings:
        reporter.warn(f"session {session.id}: {warning}")
    if tty:
        from codive_cli.ui.transcript import show_end

        show_end(console, session.messages, session.interrupted_indexes, session.id)


def _pick_session() -> str | None:
    """`--resume` without an id: the session the person picks from this folder's recent ones
    (None: a new conversation). Only on a terminal: a script must name the session."""
    from codive_cli.ui.pick import pick_session
    from codive_cli.ui.repl import interactive

    if not interactive():
        raise ConfigError(
            "--resume without an id asks which session, and there is no terminal to ask",
            hint="pass one: codive chat --resume ID (or --continue for the latest)",
        )
    listed = SessionStore().list(Path.cwd().resolve(), limit=40)
    sessions = [info for info in listed if info.asked][:20]  # like /sessions
    if not sessions:
        raise ConfigError("no saved session in this folder", hint="start one: codive chat")
    picked = pick_session(Console(highlight=False), sessions)
    return picked.id if picked is not None else None


def _history_file() -> Path:
    from platformdirs import user_data_path

    return user_data_path("codive", appauthor=False) / "history"


def _ask_to_trust(settings: Settings) -> bool:
    """The one-time question in chat: show what the file would change, trust it on yes."""
    from codive_cli.settings import trust
    from codive_cli.ui.repl import interactive

    config = project_config_path(Path.cwd())
    if config is None or not interactive():
        return False
    data = read_config_file(config)
    console = Console(stderr=True, highlight=False)
    console.print(plain(f"? {config} is not trusted. Trusting it would apply:", "bold yellow"))
    for key in settings.untrusted_keys:
        value: Any = data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        console.print(plain(f"    {key} = {json.dumps(value)}"))
    answer = input("  Trust this folder's codive.toml? [y/N] ").strip().lower()
    if answer in ("y", "yes"):
        trust.trust(config)
        return True
    return False
