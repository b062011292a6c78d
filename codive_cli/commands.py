"""What each command does, once the CLI has parsed its flags."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from codive_cli.agent import Agent, AgentEvent, RunResult, ToolFinished
from codive_cli.config import (
    FILE_NAME,
    Settings,
    config_files,
    load_settings,
    project_config_path,
    read_config_file,
    resolve_provider,
    user_config_path,
)
from codive_cli.errors import ConfigError
from codive_cli.prompts import system_prompt
from codive_cli.provider import ModelInfo, Provider
from codive_cli.providers import create_provider
from codive_cli.tools import builtin_tools
from codive_cli.tools.base import ToolContext
from codive_cli.tools.guard import WorkspaceGuard
from codive_cli.tools.permissions import Approver, Policy, deny_without_terminal
from codive_cli.ui.approve import TerminalApprover, can_ask
from codive_cli.ui.render import (
    JsonLinesRenderer,
    LiveRenderer,
    PlainRenderer,
    Renderer,
    SilentRenderer,
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
    return asyncio.run(_complete(provider, options, prompt, settings))


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
        provider, options, settings, on_event=on_event, pause=renderer.pause, ask=not quiet
    )
    if options.max_cost is not None and provider.model_info() is None:
        reporter.warn(f"{provider.config.model} has no known price: --max-cost cannot cap it")
    async with provider, contextlib.AsyncExitStack() as servers:
        await reporter.while_starting(provider)
        if options.tools:
            await attach_mcp(agent, settings, servers, reporter)
        _fit_tools_to_model(agent, provider, options, reporter)
        try:
            result = await agent.run(prompt)
        finally:
            renderer.close()
    reporter.outcome(result, provider.model_info(result.model or None))
    if options.json or options.stream_json:
        record = result_object(result, provider)
        if options.stream_json:
            record = {"type": "result", **record}
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


async def attach_mcp(
    agent: Agent, settings: Settings, stack: contextlib.AsyncExitStack, reporter: Reporter
) -> None:
    """Start the configured MCP servers; their tools join the built-in ones."""
    if not settings.mcp.servers:
        return
    from codive_cli.mcp import start_mcp_tools

    tools = await reporter.while_waiting(
        start_mcp_tools(settings.mcp.servers, stack, on_error=reporter.warn),
        "starting MCP servers",
    )
    agent.tools.update({tool.name: tool for tool in tools})


def _fit_tools_to_model(
    agent: Agent, provider: Provider, options: CompleteOptions, reporter: Reporter
) -> None:
    """A model without tool calling runs without tools, and the person hears it once."""
    if provider.supports_tools is not False or not agent.tools or agent.text_tools:
        return
    system = system_prompt(agent.context.root, []) if options.system is None else None
    agent.drop_tools(system)
    if provider.config.chosen_by != "default":  # the default's notice already says so
        reporter.note(f"{provider.config.model} cannot call tools: answering without them")


def build_agent(
    provider: Provider,
    options: CompleteOptions,
    settings: Settings,
    *,
    on_event: Callable[[AgentEvent], None],
    pause: Callable[[], None],
    ask: bool,
) -> Agent:
    """The agent for this run: workspace, tools, permission policy and approver."""
    root = Path.cwd().resolve()
    guard = WorkspaceGuard(root, protected=[user_config_path().parent])
    tools = builtin_tools() if options.tools else []
    mode = options.permission_mode or settings.agent.permission_mode
    policy = Policy(mode, settings.agent.allow, settings.agent.deny, guard)  # type: ignore[arg-type]
    secrets = tuple(key for key in (provider.config.api_key,) if key)
    approver: Approver = deny_without_terminal
    if can_ask() and ask:
        approver = TerminalApprover(Console(stderr=True), pause=pause)
    return Agent(
        provider,
        tools,
        ToolContext(root, guard, secrets, allow_secrets=mode == "full"),
        policy=policy,
        approver=approver,
        system=system_prompt(root, tools) if options.system is None else options.system,
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


# --- models ---------------------------------------------------------------------------------


def models_command(provider: str | None, base_url: str | None, *, as_json: bool) -> int:
    settings, _ = load_settings()
    models = asyncio.run(_list_models(settings, provider, base_url))
    if as_json:
        sys.stdout.write(json.dumps([_model_dict(m) for m in models], indent=2) + "\n")
    else:
        _print_models(models)
    return 0


async def _list_models(
    settings: Settings, name: str | None, base_url: str | None
) -> list[ModelInfo]:
    try:
        configs = [resolve_provider(settings, name, base_url=base_url)]
    except ConfigError as error:
        if name or error.message != "no provider configured":
            raise
        # Nothing chosen yet: show what every hosted provider offers.
        configs = [resolve_provider(settings, kind) for kind in ("anthropic", "openai")]
    models: list[ModelInfo] = []
    for config in configs:
        async with create_provider(config) as provider:
            models.extend(await provider.list_models())
    return models


def _model_dict(model: ModelInfo) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
        "provider": model.provider,
        "input_price": model.input_price,
        "output_price": model.output_price,
    }


def _print_models(models: list[ModelInfo]) -> None:
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("provider", "id", "name", "context", "max output", "$/Mtok in/out"):
        table.add_column(column, justify="right" if column in ("context", "max output") else "left")
    for m in models:
        price = "unpriced"
        if m.input_price is not None and m.output_price is not None:
            price = f"{m.input_price:g} / {m.output_price:g}"
        table.add_row(
            m.provider, m.id, m.name, _count(m.context_window), _count(m.max_output_tokens), price
        )
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=200)  # a pipe: never truncate ids
    console.print(table)


def _count(value: int | None) -> str:
    return f"{value:,}" if value else "-"


# --- config ---------------------------------------------------------------------------------


def config_path_command() -> int:
    cwd = Path.cwd()
    read = {p.resolve() for p in config_files(cwd, _environ())}
    project = project_config_path(cwd) or cwd / FILE_NAME
    for label, path in (("user", user_config_path()), ("project", project)):
        state = "read" if path.resolve() in read else "absent"
        sys.stdout.write(f"{label:8} {path} ({state})\n")
    explicit = _environ().get("CODIVE_CONFIG")
    if explicit:
        sys.stdout.write(f"{'explicit':8} {explicit} (CODIVE_CONFIG, replaces project)\n")
    return 0


def config_show_command() -> int:
    import tomli_w

    settings, files = load_settings()
    data = _without_none(settings.model_dump(mode="python"))
    _mask_keys(data)
    sources = ", ".join(str(f) for f in files) or "none (defaults and environment)"
    sys.stdout.write(f"# files read: {sources}\n")
    try:
        config = resolve_provider(settings)
        model = config.model or "(provider default)"
        sys.stdout.write(f"# provider: {config.label} (kind {config.name}), model {model}\n")
    except ConfigError as error:
        sys.stdout.write(f"# provider: {error.message}\n")
    sys.stdout.write(tomli_w.dumps(data))
    return 0


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None and v != {}}
    return value


def _mask_keys(data: dict[str, Any]) -> None:
    from pydantic import SecretStr

    for key, value in list(data.items()):
        if key == "headers" and isinstance(value, dict):
            for name in value:
                if any(word in name.lower() for word in ("auth", "key", "token", "secret")):
                    value[name] = "****"
        elif isinstance(value, dict):
            _mask_keys(value)
        elif isinstance(value, SecretStr):
            secret = value.get_secret_value()
            data[key] = "****" + secret[-4:] if len(secret) > 12 else "****"


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


STARTER = """\
# codive configuration. Precedence: defaults < user file < this file < CODIVE_* env < flags.
# Reference: docs/configuration.md

[provider]
# name = "anthropic"        # or "openai", "local_llm", or a [providers.<label>] below;
                            # unset: ANTHROPIC_API_KEY / OPENAI_API_KEY in the env decide
# model = "claude-sonnet-5-5"
# max_tokens = 4096
# timeout = 60              # read timeout, seconds
# Keys: prefer ANTHROPIC_API_KEY / OPENAI_API_KEY in the environment to api_key here.

# A local llama.cpp server (llama-server -m model.gguf --port 8080 --jinja):
[providers.llama]
kind = "local_llm"
base_url = "http://127.0.0.1:8080"

[agent]
permission_mode = "ask"     # read-only | ask | accept-edits | full
"""


def config_init_command(*, user: bool, force: bool) -> int:
    path = user_config_path() if user else Path.cwd() / FILE_NAME
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists", hint="pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER, encoding="utf-8")
    sys.stdout.write(f"wrote {path}\n")
    return 0


# --- serve ----------------------------------------------------------------------------------


def serve_command(port: int | None, model_path: str | None) -> int:
    """Run the embedded model server in the foreground until Ctrl-C."""
    from codive_cli.providers.embedded import (
        DEFAULT_CTX,
        INSTALL_HINT,
        EmbeddedServer,
        default_model_path,
    )

    settings, _ = load_settings()
    table = settings.providers.get("embedded")
    path = model_path or (table.model_path if table else None) or default_model_path()
    if path is None:
        raise ConfigError("no local model is installed", hint=INSTALL_HINT)
    server = EmbeddedServer(
        Path(path).expanduser(),
        port=port,
        ctx_size=(table.ctx_size if table else None) or DEFAULT_CTX,
        threads=table.threads if table else None,
    )
    reporter = Reporter(Console(stderr=True, highlight=False))
    _stop_on_signals()
    server.spawn()
    try:
        asyncio.run(reporter.while_waiting(server.wait_healthy(), "loading the local model"))
        sys.stdout.write(f"{server.base_url}\n")
        sys.stdout.flush()
        reporter.note(f"serving {Path(path).name} at {server.base_url}/v1 (Ctrl-C to stop)")
        assert server.process is not None
        code = server.process.wait()
        raise ConfigError(f"the local model server stopped (exit status {code})")
    except KeyboardInterrupt:
        reporter.note("stopped")
        return 0
    finally:
        server.stop()


def _stop_on_signals() -> None:
    """SIGTERM, and SIGINT even when a shell started us with it ignored, stop the server."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


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
    settings, _ = load_settings()
    if settings.untrusted_keys and _ask_to_trust(settings):
        settings, _ = load_settings()
    config = resolve_provider(
        settings, options.provider, model=options.model, base_url=options.base_url
    )
    provider = create_provider(config)
    return asyncio.run(_chat(provider, options, settings))


async def _chat(provider: Provider, options: ChatOptions, settings: Settings) -> int:
    from codive_cli.chat import Chat
    from codive_cli.session import SessionStore
    from codive_cli.ui.repl import LineSource, TerminalSource, interactive

    tty = interactive()
    console = Console(highlight=False)
    reporter = Reporter(Console(stderr=True, highlight=False))
    warn_untrusted(settings, reporter)
    provider.on_notice = reporter.note
    store = SessionStore()
    root = Path.cwd().resolve()
    session = _open_session(store, root, options, provider)
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
        provider, run_options, settings, on_event=lambda event: None, pause=pause, ask=True
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
        _fit_tools_to_model(agent, provider, run_options, reporter)
        await chat.run(source)
    finally:
        await servers.aclose()
        await agent.provider.aclose()
        chat.session.sync()
        chat.session.close()
    return 0


def _open_session(store: Any, root: Path, options: ChatOptions, provider: Provider) -> Any:
    if options.resume:
        try:
            return store.load(options.resume)
        except KeyError as error:
            raise ConfigError(
                f"no saved session {options.resume!r}", hint="see /sessions"
            ) from error
    if options.continue_last:
        session = store.latest(root)
        if session is None:
            raise ConfigError("no earlier session in this folder", hint="start one: codive chat")
        return session
    config = provider.config
    return store.create(root, provider=config.display_name, model=config.model)


def _replay(console: Console, session: Any, tty: bool) -> None:
    """Show the conversation being continued."""
    for warning in session.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for message in session.messages:
        if message.role == "user":
            console.print(f"› {message.content}", style="bold", markup=False, highlight=False)
        elif message.role == "assistant" and message.content:
            if tty:
                from rich.markdown import Markdown

                console.print(Markdown(message.content))
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


# --- trust ----------------------------------------------------------------------------------


def trust_command(path: str | None, *, revoke: bool) -> int:
    from codive_cli import trust

    folder = Path(path or ".").expanduser().resolve()
    if revoke:
        removed = trust.revoke(folder)
        sys.stdout.write(f"{'no longer trusted' if removed else 'was not trusted'}: {folder}\n")
        return 0
    config = project_config_path(folder) if folder.is_dir() else None
    if config is None:
        raise ConfigError(f"no codive.toml in {folder} or above it (up to the repository root)")
    _, ignored = trust.restrict(read_config_file(config))
    trust.trust(config)
    sys.stdout.write(f"trusted: {config}\n")
    if ignored:
        sys.stdout.write("now in effect: " + ", ".join(ignored) + "\n")
    return 0


def _ask_to_trust(settings: Settings) -> bool:
    """The one-time question in chat: show what the file would change, trust it on yes."""
    from codive_cli import trust
    from codive_cli.ui.repl import interactive

    config = project_config_path(Path.cwd())
    if config is None or not interactive():
        return False
    data = read_config_file(config)
    console = Console(stderr=True, highlight=False)
    console.print(f"[bold yellow]?[/] {config} is not trusted. Trusting it would apply:")
    for key in settings.untrusted_keys:
        value: Any = data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        console.print(f"    {key} = {json.dumps(value)}", markup=False)
    answer = input("  Trust this folder's codive.toml? [y/N] ").strip().lower()
    if answer in ("y", "yes"):
        trust.trust(config)
        return True
    return False


def warn_untrusted(settings: Settings, reporter: Reporter) -> None:
    if settings.untrusted_keys:
        reporter.warn(
            "this folder's codive.toml is not trusted, so these keys are ignored: "
            + ", ".join(settings.untrusted_keys)
            + " (run `codive trust` to accept them)"
        )


# --- doctor ---------------------------------------------------------------------------------


def doctor_command(name: str | None, model: str | None, base_url: str | None) -> int:
    from codive_cli.doctor import Check, diagnose

    console = Console(highlight=False)
    settings, files = load_settings()
    shown = ", ".join(str(f) for f in files) or "none"
    console.print(f"config files: {shown}", markup=False)
    warn_untrusted(settings, Reporter(Console(stderr=True, highlight=False)))
    config = resolve_provider(settings, name, model=model, base_url=base_url)

    def report(check: Check) -> None:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        console.print(f"{mark} [bold]{check.name}[/]: ", end="")
        console.print(check.detail, markup=False, soft_wrap=True)
        if check.fix:
            console.print(f"    fix: {check.fix}", style="dim", markup=False, soft_wrap=True)

    async def run() -> bool:
        async with create_provider(config) as provider:
            return await diagnose(provider, report)

    return 0 if asyncio.run(run()) else 1
