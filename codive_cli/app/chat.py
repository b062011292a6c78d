"""`codive chat`: wiring the REPL to settings, provider, agent and session."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from codive_cli.agent.loop import AgentEvent, ToolFinished
from codive_cli.app import lifetime
from codive_cli.app.complete import (
    CompleteOptions,
    attach_mcp,
    build_agent,
    fit_tools_to_model,
    warn_untrusted,
)
from codive_cli.errors import ConfigError
from codive_cli.provider import Provider
from codive_cli.providers import create_provider
from codive_cli.settings.loading import load_settings, project_config_path, read_config_file
from codive_cli.settings.resolve import resolve_provider
from codive_cli.settings.schema import Settings
from codive_cli.ui.render import (
    LiveRenderer,
    PlainRenderer,
    Renderer,
)
from codive_cli.ui.report import Reporter
from codive_cli.ui.safe import plain, visible

# --- chat -----------------------------------------------------------------------------------


@dataclass
class ChatOptions:
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    permission_mode: str | None = None
    continue_last: bool = False
    resume: str | None = None


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
    config = resolve_provider(
        settings, options.provider, model=options.model, base_url=options.base_url
    )
    provider = create_provider(config)
    return lifetime.run(_chat(provider, options, settings))


async def _chat(provider: Provider, options: ChatOptions, settings: Settings) -> int:
    from codive_cli.conversation.chat import Chat
    from codive_cli.conversation.session import SessionStore
    from codive_cli.ui.repl import LineSource, TerminalSource, interactive

    tty = interactive()
    console = Console(highlight=False)
    reporter = Reporter(Console(stderr=True, highlight=False))
    warn_untrusted(settings, reporter)
    provider.on_notice = reporter.note
    store = SessionStore()
    root = Path.cwd().resolve()
    session = _open_session(store, root, options, provider, reporter)
    current: list[Renderer] = []

    def new_renderer() -> Renderer:
        renderer: Renderer = LiveRenderer(console) if tty else PlainToolRenderer(reporter)
        current[:] = [renderer]
        return renderer

    def pause() -> None:
        for renderer in current:
            renderer.pause()

    run_options = CompleteOptions(prompt=None, permission_mode=options.permission_mode)
    agent = build_agent(
        provider,
        run_options,
        settings,
        on_event=lambda event: None,
        pause=pause,
        ask=True,
        warn=reporter.warn,
    )
    if session.messages:
        agent.messages = list(session.messages)
        _replay(console, session, tty)
    else:
        for message in agent.messages:
            session.append(message)

    async def switch(name: str | None, model: str | None) -> Provider:
        config = resolve_provider(
            settings,
            name or agent.provider.config.label,
            model=model,
            base_url=options.base_url if name is None else None,
        )
        fresh = create_provider(config)
        fresh.on_notice = reporter.note
        await reporter.while_starting(fresh)
        await agent.provider.aclose()
        return fresh

    chat = Chat(agent, session, store, console, switch_provider=switch, new_renderer=new_renderer)
    if tty:
        chat.note(
            f"codive {provider.config.display_name} / {provider.config.model or 'default'}"
            f" · session {session.id} · /help for commands"
        )
    source = TerminalSource(root, _history_file()) if tty else LineSource()
    servers = contextlib.AsyncExitStack()
    try:
        await reporter.while_starting(provider)
        await attach_mcp(agent, settings, servers, reporter)
        fit_tools_to_model(agent, provider, run_options, reporter)
        await chat.run(source)
    finally:
        await servers.aclose()
        await agent.provider.aclose()
        chat.session.sync()
        chat.session.close()
    return 0


def _open_session(
    store: Any, root: Path, options: ChatOptions, provider: Provider, reporter: Reporter
) -> Any:
    """The session to write: a new one, or the one to go on with (a copy of it, if another
    codive has it open: two writers would interleave their turns in one file)."""
    from codive_cli.conversation.session import SessionBusy

    config = provider.config
    try:
        if options.resume:
            try:
                return store.load(options.resume, lock=True)
            except KeyError as error:
                raise ConfigError(
                    f"no saved session {options.resume!r}", hint="see /sessions"
                ) from error
        if options.continue_last:
            session = store.latest(root, lock=True)
            if session is None:
                raise ConfigError(
                    "no earlier session in this folder", hint="start one: codive chat"
                )
            return session
    except SessionBusy as busy:
        fork = store.fork(busy.session, provider=config.display_name, model=config.model)
        reporter.note(f"{busy}, so this chat goes on in a copy of it: session {fork.id}")
        return fork
    return store.create(root, provider=config.display_name, model=config.model)


def _replay(console: Console, session: Any, tty: bool) -> None:
    """Show the conversation being continued."""
    for warning in session.warnings:
        console.print(plain(f"warning: {warning}", "yellow"), highlight=False)
    for message in session.messages:
        if message.role == "user":
            console.print(plain(f"› {message.content}", "bold"), highlight=False)
        elif message.role == "assistant" and message.content:
            if tty:
                from rich.markdown import Markdown

                console.print(Markdown(visible(message.content)))
            else:
                console.print(message.content, markup=False, highlight=False)
    console.print(f"[dim]· continuing session {session.id}[/]", highlight=False)


def _history_file() -> Path:
    from platformdirs import user_data_path

    return user_data_path("codive", appauthor=False) / "history"


class PlainToolRenderer(PlainRenderer):
    """Plain answer text on stdout, one line per tool call on stderr."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__(sys.stdout)
        self.reporter = reporter

    def on_event(self, event: AgentEvent) -> None:
        super().on_event(event)
        if isinstance(event, ToolFinished):
            self.reporter.tool(event.call, event.result)


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
