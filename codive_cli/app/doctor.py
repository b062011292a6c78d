"""`codive doctor`: check the configured provider end to end, one verdict and fix per line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codive_cli.errors import AuthError, CodiveError, ModelNotFound, NetworkError
from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    Done,
    ModelInfo,
    Provider,
    StreamError,
    TextDelta,
    ToolDefinition,
)

PING = CompletionRequest([ChatMessage("user", "Reply with the word: ok")], max_tokens=8)
PROBE_TOOL = ToolDefinition(
    "get_time",
    "Returns the current time. Call it whenever the user asks for the time.",
    {"type": "object", "properties": {}, "additionalProperties": False},
)
TOOL_PROBE = CompletionRequest(
    [ChatMessage("user", "What time is it? Use the get_time tool.")],
    tools=[PROBE_TOOL],
    max_tokens=64,
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


Report = Callable[[Check], None]


async def diagnose(provider: Provider, report: Report) -> bool:
    """Run the checks in order; later ones are skipped when the server cannot be reached."""
    config = provider.config
    report(
        Check(
            "provider",
            True,
            f"{config.display_name} (kind {config.name}), chosen by "
            f"{config.chosen_by}, model {config.model or 'default'}",
        )
    )
    try:
        await provider.start()
        models = await provider.list_models()
        response = await provider.complete(PING)
    except CodiveError as error:
        report(_failure("reachable", error))
        return False
    report(Check("reachable", True, f"answered: {response.content.strip()[:40]!r}"))
    report(_model_check(provider, [m.id for m in models]))
    report(_context_check(provider, models))
    ok = await _stream_check(provider, report)
    ok = await _tool_check(provider, report) and ok
    return ok


def _failure(name: str, error: CodiveError) -> Check:
    fix = error.hint
    if isinstance(error, AuthError):
        name = "key valid"
    elif isinstance(error, ModelNotFound):
        name = "model known"
    elif isinstance(error, NetworkError) and not fix:
        fix = "start the server or fix base_url"
    return Check(name, False, error.message, fix)


def _model_check(provider: Provider, known: list[str]) -> Check:
    model = provider.config.model
    if not model or model in known or provider.model_info(model):
        return Check("model known", True, model or "the server's default")
    return Check(
        "model known",
        True,
        f"{model}: the API accepts it, but codive has no prices or limits for it "
        "(/usage shows it as unpriced)",
    )


def _context_check(provider: Provider, models: Sequence[ModelInfo]) -> Check:
    """The window the model has; a local server's own figure wins (llama.cpp, vLLM say)."""
    model = provider.config.model
    served = [m for m in models if m.context_window and (m.id == model or len(models) == 1)]
    info = served[0] if served else provider.model_info()
    window = info.context_window if info else None
    if window is None:
        return Check("context size", True, "unknown (the server does not say)")
    detail = f"{window:,} tokens"
    if window < 16_000:
        return Check(
            "context size",
            False,
            detail,
            "tool definitions and a few files need ~16k: raise the server's context "
            "(llama-server -c, Ollama num_ctx)",
        )
    return Check("context size", True, detail)


async def _stream_check(provider: Provider, report: Report) -> bool:
    text, done = "", None
    async for event in provider.stream(PING):
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, Done):
            done = event
        elif isinstance(event, StreamError):
            report(_failure("streaming", event.error))
            return False
    if done is None:
        report(Check("streaming", False, "the stream ended without its final event"))
        return False
    report(Check("streaming", True, f"{len(text)} characters, stop reason {done.stop_reason}"))
    return True


async def _tool_check(provider: Provider, report: Report) -> bool:
    if provider.supports_tools is False:
        report(
            Check(
                "tool calls",
                False,
                "the model has no tool-calling template",
                "use a model with tool support for agent work",
            )
        )
        return False
    try:
        response = await provider.complete(TOOL_PROBE)
    except CodiveError as error:
        report(_failure("tool calls", error))
        return False
    if any(call.name == PROBE_TOOL.name for call in response.tool_calls):
        report(Check("tool calls", True, "the model called a test tool"))
        return True
    report(
        Check(
            "tool calls",
            False,
            "the model answered in text instead of calling a test tool",
            "llama.cpp: start llama-server with --jinja; else pick a model trained for tools",
        )
    )
    return False


@dataclass
class EmbeddedParts:
    model: Path | None
    binary: Path | None
    explicit_binary: bool


def locate_embedded(model_path: str | None, server_path: str | None) -> EmbeddedParts:
    """The embedded model and server that would run: configured ones, else codive's own."""
    from codive_cli.providers.llama_server import default_model_path, packaged_binary

    if server_path:
        return EmbeddedParts(
            Path(model_path).expanduser() if model_path else default_model_path(),
            Path(server_path).expanduser(),
            explicit_binary=True,
        )
    model = Path(model_path).expanduser() if model_path else default_model_path()
    return EmbeddedParts(model, packaged_binary(), explicit_binary=False)


async def diagnose_embedded(report: Report, parts: EmbeddedParts, *, required: bool) -> bool:
    """The embedded default: model and server present, and the server starts and answers.

    Not installed is only a failure when the embedded provider is the one in use.
    """
    from codive_cli.providers import llama_build
    from codive_cli.providers.llama_server import SETUP_COMMAND

    model, binary = parts.model, parts.binary
    if model is None or binary is None:
        missing = [part for part, path in (("model", model), ("server", binary)) if path is None]
        optional = f" (optional: `{SETUP_COMMAND}` installs it)"
        detail = f"{' and '.join(missing)} not installed" + ("" if required else optional)
        report(Check("embedded model", not required, detail, f"run `{SETUP_COMMAND}`"))
        return not required
    record = None if parts.explicit_binary else llama_build.installed_build(binary)
    build = f"{record['flavour']} build" if record else "built outside `codive setup local`"
    report(Check("embedded server", True, f"{binary} ({build})"))
    try:
        result = await llama_build.smoke_check(
            model, binary=binary if parts.explicit_binary else None
        )
    except CodiveError as error:
        report(Check("embedded answers", False, error.message, error.hint))
        return False
    detail = (
        f"{model.name}: ready in {result.ready_seconds:.1f} s, answered "
        f"{result.text.strip()[:30]!r} in {result.answer_seconds:.1f} s"
    )
    report(Check("embedded answers", True, detail))
    return True
