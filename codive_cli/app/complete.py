"""`codive complete`: one request through the agent loop, and the pieces chat shares."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from codive_cli.agent.loop import Agent, AgentEvent, RunResult, ToolFinished
from codive_cli.agent.prompts import Instructions, project_instructions, system_prompt
from codive_cli.app import lifetime
from codive_cli.errors import ConfigError
from codive_cli.policy.credentials import known_secrets, redact
from codive_cli.policy.guard import WorkspaceGuard
from codive_cli.policy.permissions import Approver, Policy, deny_without_terminal
from codive_cli.policy.sandbox import Sandbox, find_bwrap
from codive_cli.provider import Provider
from codive_cli.providers import create_provider
from codive_cli.settings.config import (
    Settings,
    load_settings,
    resolve_provider,
    user_config_path,
)
from codive_cli.tools import builtin_tools
from codive_cli.tools.base import ToolContext
from codive_cli.ui.approve import TerminalApprover, can_ask
from codive_cli.ui.render import (
    JsonLinesRenderer,
    LiveRenderer,
    PlainRenderer,
    Renderer,
    SilentRenderer,
    json_line,
)
from codive_cli.ui.report import Reporter


@dataclass
class CompleteOptions:
    prompt: str | None
    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = True
    json: bool = False
    stream_json: bool = False
    tools: bool = True
    max_cost: float | None = None
    permission_mode: str | None = None
    max_steps: int | None = None


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
    config = resolve_provider(
        settings, options.provider, model=options.model, base_url=options.base_url
    )
    prompt = read_prompt(options.prompt)
    provider = create_provider(config)
    return lifetime.run(_complete(provider, options, prompt, settings))


async def _complete(
    provider: Provider, options: CompleteOptions, prompt: str, settings: Settings
) -> int:
    reporter = Reporter(Console(stderr=True, highlight=False))
    warn_untrusted(settings, reporter)
    stdout = Console(highlight=False)
    provider.on_notice = reporter.note
    if provider.config.chosen_by == "default":
        reporter.note(
            f"no API key found: the small local model ({provider.config.model}) is answering, "
            "without tools; set ANTHROPIC_API_KEY or OPENAI_API_KEY, or pass --provider, "
            "for a hosted model"
        )
    renderer: Renderer
    if options.stream_json:
        renderer = JsonLinesRenderer(sys.stdout)
    elif options.json:
        renderer = SilentRenderer()
    elif stdout.is_terminal:
        renderer = LiveRenderer(stdout)
    else:
        renderer = PlainRenderer(sys.stdout)
    live = isinstance(renderer, LiveRenderer)

    def on_event(event: AgentEvent) -> None:
        renderer.on_event(event)
        if isinstance(event, ToolFinished) and not live:
            reporter.tool(event.call, event.result)

    quiet = options.json or options.stream_json
    agent = build_agent(
        provider,
        options,
        settings,
        on_event=on_event,
        pause=renderer.pause,
        ask=not quiet,
        warn=reporter.warn,
    )
    if options.max_cost is not None and provider.model_info() is None:
        reporter.warn(f"{provider.config.model} has no known price: --max-cost cannot cap it")
    async with provider, contextlib.AsyncExitStack() as servers:
        await reporter.while_starting(provider)
        if options.tools:
            await attach_mcp(agent, settings, servers, reporter)
        fit_tools_to_model(agent, provider, options, reporter)
        try:
            result = await agent.run(prompt)
        finally:
            renderer.close()
    reporter.outcome(result, provider.model_info(result.model or None))
    if options.json or options.stream_json:
        record = result_object(result, provider)
        if options.stream_json:
            record = {"type": "result", **record}
        sys.stdout.write(json_line(record) + "\n")
    return 0


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
    agent: Agent, provider: Provider, options: CompleteOptions, reporter: Reporter
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


def read_instructions(guard: WorkspaceGuard, policy: Policy) -> Instructions | None:
    """AGENTS.md / CODIVE.md as read_file would read it: guard, secret and deny rules."""
    return project_instructions(guard, policy.denies_reading)


def codive_folders() -> list[Path]:
    """codive's own configuration, data (sessions, trust records), cache and state."""
    import platformdirs

    own = [user_config_path().parent]
    for folder in ("data", "cache", "state"):
        own.append(getattr(platformdirs, f"user_{folder}_path")("codive", appauthor=False))
    return own


def build_sandbox(root: Path, settings: Settings) -> Sandbox:
    """The sandbox commands run in (found and proven once a process)."""
    binary, problem = find_bwrap()
    config = settings.sandbox
    return Sandbox(
        root,
        binary,
        problem,
        network=config.network,
        extra_writable=tuple(Path(p).expanduser() for p in config.writable),
        extra_hidden=tuple(Path(p).expanduser() for p in config.hidden),
        protected=tuple(codive_folders()),
        in_full_mode=config.full,
    )


def build_agent(
    provider: Provider,
    options: CompleteOptions,
    settings: Settings,
    *,
    on_event: Callable[[AgentEvent], None],
    pause: Callable[[], None],
    ask: bool,
    warn: Callable[[str], None],
) -> Agent:
    """The agent for this run: workspace, tools, permission policy and approver."""
    root = Path.cwd().resolve()
    guard = WorkspaceGuard(root, protected=codive_folders())
    tools = builtin_tools() if options.tools else []
    mode = options.permission_mode or settings.agent.permission_mode
    sandbox = build_sandbox(root, settings)
    policy = Policy(mode, settings.agent.allow, settings.agent.deny, guard, sandbox)  # type: ignore[arg-type]
    if not sandbox.available and sandbox.applies(mode):
        warn(f"no OS sandbox for commands here ({sandbox.problem}): every command asks")
    secrets = known_secrets(os.environ, settings, [provider.config.api_key])
    approver: Approver = deny_without_terminal
    if can_ask() and ask:
        approver = TerminalApprover(Console(stderr=True), pause=pause)
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
        approver=approver,
        system=redact(system, secrets),
        max_steps=options.max_steps or settings.agent.max_steps,
        max_cost=options.max_cost,
        max_tokens=options.max_tokens,
        temperature=options.temperature,
        stream=options.stream,
        on_event=on_event,
    )


def result_object(result: RunResult, provider: Provider) -> dict[str, Any]:
    """The `--json` result, one shape for every provider."""
    return {
        "content": result.content,
        "tool_calls": [
            {
                "name": record.call.name,
                "arguments": record.call.arguments,
                "result": record.result.content,
                "is_error": record.result.is_error,
            }
            for record in result.tool_calls
        ],
        "usage": {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
        },
        "stop_reason": result.stop_reason,
        "model": result.model or provider.config.model,
        "provider": provider.config.display_name,
        "steps": result.steps,
        "stopped_by": result.stopped_by,
    }


def warn_untrusted(settings: Settings, reporter: Reporter) -> None:
    if settings.untrusted_keys:
        reporter.warn(
            "this folder's codive.toml is not trusted, so these keys are ignored: "
            + ", ".join(settings.untrusted_keys)
            + " (run `codive trust` to accept them)"
        )
