"""What complete and chat both build: the provider, the agent with its workspace, tools,
policy and sandbox, and the MCP servers' tools."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codive_cli.agent.loop import Agent
from codive_cli.agent.prompts import Instructions, project_instructions, system_prompt
from codive_cli.conversation.session import Session, SessionBusy, SessionStore
from codive_cli.errors import ConfigError
from codive_cli.policy.credentials import known_secrets, redact
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.modes import Mode
from codive_cli.policy.permissions import Approver, Policy, deny_without_terminal
from codive_cli.policy.sandbox import Sandbox, find_bwrap
from codive_cli.provider import Provider
from codive_cli.settings.loading import user_config_path
from codive_cli.settings.resolve import resolve_provider
from codive_cli.settings.schema import Settings
from codive_cli.tools import builtin_tools
from codive_cli.tools.base import ToolContext
from codive_cli.ui.report import Reporter

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    """Which provider and model the flags ask for (None: the settings decide)."""

    provider: str | None = None
    model: str | None = None
    base_url: str | None = None


@dataclass(frozen=True)
class AgentOptions:
    """What the flags say about the agent itself (None: the settings decide)."""

    permission_mode: Mode | None = None
    system: str | None = None
    tools: bool = True
    max_steps: int | None = None
    max_cost: float | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = True


def open_provider(settings: Settings, endpoint: Endpoint) -> Provider:
    from codive_cli.providers import create_provider

    config = resolve_provider(
        settings, endpoint.provider, model=endpoint.model, base_url=endpoint.base_url
    )
    return create_provider(config)


def codive_folders() -> list[Path]:
    """codive's own configuration, data (sessions, trust records), cache and state."""
    import platformdirs

    own = [user_config_path().parent]
    for folder in ("data", "cache", "state"):
        own.append(getattr(platformdirs, f"user_{folder}_path")("codive", appauthor=False))
    return own


def build_sandbox(root: Path, settings: Settings, warn: Warn | None = None) -> Sandbox:
    """The sandbox commands run in (found and proven once a process, by the first command
    that needs it; `warn` hears then, once, if there is none)."""
    config = settings.sandbox

    def missing(problem: str) -> None:
        if warn is not None:
            warn(f"no OS sandbox for commands here ({problem}): every command asks")

    return Sandbox(
        root,
        None,
        finder=find_bwrap,
        on_missing=missing,
        network=config.network,
        extra_writable=tuple(Path(p).expanduser() for p in config.writable),
        extra_hidden=tuple(Path(p).expanduser() for p in config.hidden),
        protected=tuple(codive_folders()),
        in_full_mode=config.full,
    )


def build_agent(provider: Provider, settings: Settings, options: AgentOptions, warn: Warn) -> Agent:
    """The agent for this run: workspace, tools, permission policy and sandbox."""
    root = Path.cwd().resolve()
    guard = WorkspaceGuard(root, protected=codive_folders())
    tools = builtin_tools() if options.tools else []
    mode = options.permission_mode or settings.agent.permission_mode
    sandbox = build_sandbox(root, settings, warn)
    policy = Policy(mode, settings.agent.allow, settings.agent.deny, guard, sandbox)
    secrets = known_secrets(os.environ, settings, [provider.config.api_key])
    system = options.system
    if system is None:
        instructions = read_instructions(guard, policy)
        if instructions is not None and instructions.refused:
            warn(f"{instructions.name} was not read: {instructions.refused}")
        system = system_prompt(root, tools, instructions=instructions)
    return Agent(
        provider,
        tools,
        ToolContext(root, guard, secrets, policy=policy, sandbox=sandbox),
        policy=policy,
        system=redact(system, secrets),
        max_steps=options.max_steps or settings.agent.max_steps,
        max_cost=options.max_cost,
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        stream=options.stream,
        assumed_context_window=settings.agent.assumed_context_window,
    )


def read_instructions(guard: WorkspaceGuard, policy: Policy) -> Instructions | None:
    """AGENTS.md / CODIVE.md as read_file would read it: guard, secret and deny rules."""
    return project_instructions(guard, policy.denies_reading)


def approver(ask: bool) -> Approver:
    """The terminal's question when a person can answer it; otherwise `ask` means no."""
    from codive_cli.ui.approve import TerminalApprover, can_ask

    if ask and can_ask():
        from rich.console import Console

        return TerminalApprover(Console(stderr=True))
    return deny_without_terminal


async def attach_mcp(
    agent: Agent, settings: Settings, stack: contextlib.AsyncExitStack, reporter: Reporter
) -> None:
    """Start the configured MCP servers; their tools join the built-in ones."""
    if not settings.mcp.servers:
        return
    from codive_cli.tools.mcp import start_mcp_tools

    tools = await reporter.while_waiting(
        start_mcp_tools(
            settings.mcp.servers, stack, on_error=reporter.warn, sandbox=agent.context.sandbox
        ),
        "starting MCP servers",
    )
    agent.tools.update({tool.name: tool for tool in tools})


def fit_tools_to_model(
    agent: Agent, provider: Provider, options: AgentOptions, reporter: Reporter
) -> None:
    """A model without tool calling runs without tools, and the person hears it once."""
    if provider.supports_tools is not False or not agent.tools:
        return
    system = None
    if options.system is None:
        instructions = read_instructions(agent.context.guard, agent.policy)
        system = redact(
            system_prompt(agent.context.root, [], instructions=instructions),
            agent.context.secrets,
        )
    agent.drop_tools(system)
    if provider.config.chosen_by != "default":  # the default's notice already says so
        reporter.note(f"{provider.config.model} cannot call tools: answering without them")


def warn_untrusted(settings: Settings, reporter: Reporter) -> None:
    if settings.untrusted_keys:
        reporter.warn(
            "this folder's codive.toml is not trusted, so these keys are ignored: "
            + ", ".join(settings.untrusted_keys)
            + " (run `codive trust` to accept them)"
        )


@dataclass(frozen=True)
class SessionChoice:
    """Which saved conversation a run goes on with: --continue, --resume ID, or a new one."""

    continue_last: bool = False
    resume: str | None = None


def open_session(
    store: SessionStore, agent: Agent, choice: SessionChoice, reporter: Reporter
) -> Session:
    """The session this run writes, with the agent's conversation set from it: a new one (the
    system prompt saved first), or the one to go on with (a copy of it, if another codive has
    it open: two writers would interleave their turns in one file)."""
    config = agent.provider.config
    try:
        found = _earlier_session(store, agent.context.root, choice)
    except SessionBusy as busy:
        found = store.fork(busy.session, provider=config.display_name, model=config.model)
        reporter.note(f"{busy}, so this run goes on in a copy of it: session {found.id}")
    if found is not None:
        agent.messages = list(found.messages)
        return found
    session = store.create(agent.context.root, provider=config.display_name, model=config.model)
    for message in agent.messages:
        session.append(message)
    return session


def _earlier_session(store: SessionStore, root: Path, choice: SessionChoice) -> Session | None:
    if choice.resume:
        try:
            return store.load(choice.resume, lock=True)
        except KeyError as error:
            missing = f"no saved session {choice.resume!r}"
            raise ConfigError(missing, hint="see /sessions in codive chat") from error
    if choice.continue_last:
        session = store.latest(root, lock=True)
        if session is None:
            raise ConfigError("no earlier session in this folder", hint="start one: codive chat")
        return session
    return None
