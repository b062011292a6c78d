"""`codive complete`: one request through the agent loop, for scripts and CI."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from codive_cli.agent.codec import encode_result, json_line
from codive_cli.agent.loop import Agent, RunResult
from codive_cli.app import lifetime
from codive_cli.app.wiring import (
    AgentOptions,
    Endpoint,
    SessionChoice,
    approver,
    attach_mcp,
    build_agent,
    fit_tools_to_model,
    open_provider,
    open_session,
    warn_untrusted,
)
from codive_cli.conversation.driving import Saving
from codive_cli.conversation.session import Session, SessionStore
from codive_cli.errors import ConfigError
from codive_cli.provider import Provider
from codive_cli.settings.loading import load_settings
from codive_cli.settings.schema import Settings
from codive_cli.ui.render import (
    JsonLinesRenderer,
    PlainRenderer,
    Renderer,
    SilentRenderer,
    is_terminal,
)
from codive_cli.ui.report import Reporter, stderr_reporter
from codive_cli.ui.turn import Turn

Output = Literal["text", "json", "stream-json"]


@dataclass(frozen=True)
class CompleteOptions:
    prompt: str | None
    endpoint: Endpoint = field(default_factory=Endpoint)
    agent: AgentOptions = field(default_factory=AgentOptions)
    output: Output = "text"
    session: SessionChoice = field(default_factory=SessionChoice)


def read_prompt(prompt: str | None) -> str:
    """The prompt argument, with piped stdin appended; neither is a usage error."""
    piped = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    parts = [p for p in (prompt, piped.strip("\n")) if p and p.strip()]
    if not parts:
        raise ConfigError(
            "no prompt", hint='pass one as an argument or on stdin: codive complete "..."'
        )
    return "\n\n".join(parts)


def complete_command(options: CompleteOptions) -> int:
    settings, _ = load_settings()
    provider = open_provider(settings, options.endpoint)
    prompt = read_prompt(options.prompt)
    return lifetime.run(_complete(provider, options, prompt, settings))


async def _complete(
    provider: Provider, options: CompleteOptions, prompt: str, settings: Settings
) -> int:
    reporter = stderr_reporter()
    warn_untrusted(settings, reporter)
    provider.on_notice = reporter.note
    _say_why_local(provider, reporter)
    agent = build_agent(provider, settings, options.agent, reporter.warn)
    if options.agent.max_cost is not None and provider.model_info() is None:
        reporter.warn(f"{provider.config.model} has no known price: --max-cost cannot cap it")
    with _saved(agent, options.session, reporter) as session:
        session_id = session.id if session is not None else None
        if options.output == "stream-json":  # first, so a script can chain the next run
            _print_json({"type": "session", "session_id": session_id})
        turn = _turn(options.output, reporter)
        async with provider, contextlib.AsyncExitStack() as servers:
            await reporter.while_starting(provider)
            if options.agent.tools:
                await attach_mcp(agent, settings, servers, reporter)
            fit_tools_to_model(agent, provider, options.agent, reporter)
            try:
                driver = Saving(turn, session) if session is not None else turn
                result = await agent.run(prompt, driver)
            finally:
                turn.close()
    _report(result, provider, options.output, session_id, reporter)
    return 0


@contextlib.contextmanager
def _saved(agent: Agent, choice: SessionChoice, reporter: Reporter) -> Iterator[Session | None]:
    """The session this run is saved in; a new run goes on unsaved (and says so) where
    sessions cannot be written, such as a read-only home in CI."""
    try:
        session = open_session(SessionStore(), agent, choice, reporter)
    except OSError as error:
        if choice.continue_last or choice.resume:
            raise ConfigError(f"cannot open the saved sessions: {error}") from error
        reporter.warn(f"this run is not saved as a session: {error}")
        yield None
        return
    with session:
        try:
            yield session
        finally:
            session.sync()


def _report(
    result: RunResult,
    provider: Provider,
    output: Output,
    session_id: str | None,
    reporter: Reporter,
) -> None:
    info = provider.model_info(result.model or None)
    reporter.outcome(result, info)
    if output == "text":
        return
    config = provider.config
    cost = info.cost(result.usage) if info else None
    record = encode_result(result, provider=config.display_name, model=config.model, cost=cost)
    record["session_id"] = session_id
    _print_json({"type": "result", **record} if output == "stream-json" else record)


def _print_json(record: dict[str, Any]) -> None:
    sys.stdout.write(json_line(record) + "\n")
    sys.stdout.flush()


def _say_why_local(provider: Provider, reporter: Reporter) -> None:
    if provider.config.chosen_by == "default":
        reporter.note(
            f"no API key found: the small local model ({provider.config.model}) is answering, "
            "without tools; set ANTHROPIC_API_KEY or OPENAI_API_KEY, or pass --provider, "
            "for a hosted model"
        )


def _turn(output: Output, reporter: Reporter) -> Turn:
    """Answer text to stdout as the output format says; tool lines to stderr when no live
    view shows them; questions only when a person reads the answer."""
    renderer: Renderer
    if output == "stream-json":
        renderer = JsonLinesRenderer(sys.stdout)
    elif output == "json":
        renderer = SilentRenderer()
    elif is_terminal(sys.stdout):  # Rich loads only here: a pipe never needs it
        from rich.console import Console

        from codive_cli.ui.live import LiveRenderer

        return Turn(LiveRenderer(Console(highlight=False)), approver(ask=True))
    else:
        renderer = PlainRenderer(sys.stdout)
    return Turn(
        renderer, approver(ask=output == "text"), tool_line=reporter.tool, note=reporter.note
    )
