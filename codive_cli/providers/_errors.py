"""Error statuses and bodies of every wire format, mapped to `ProviderError` kinds once.

Shapes understood: Anthropic (`{"type": "error", "error": {"type", "message"}}`), OpenAI
(`{"error": {"message", "type", "code"}}`), llama.cpp (OpenAI's, with an integer `code` and
`n_prompt_tokens`/`n_ctx` on context errors), Ollama (`{"error": "text"}`), and plain text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from codive_cli.errors import (
    ApiError,
    AuthError,
    ContextTooLong,
    ModelNotFound,
    Overloaded,
    ParseError,
    ProviderError,
    QuotaExceeded,
    RateLimited,
)
from codive_cli.policy.credentials import redact

_CONTEXT_PATTERNS = (
    # Anthropic: "prompt is too long: 208310 tokens > 200000 maximum"
    re.compile(r"(?P<actual>\d+) tokens > (?P<max>\d+) maximum"),
    # OpenAI: "maximum context length is 128000 tokens. However, your messages resulted in ..."
    re.compile(
        r"maximum context length is (?P<max>\d+) tokens.*?resulted in (?P<actual>\d+)", re.S
    ),
    # llama.cpp: "request (5000 tokens) exceeds the available context size (4096 tokens)"
    re.compile(r"\((?P<actual>\d+) tokens\) exceeds the available context size \((?P<max>\d+)"),
)
_CONTEXT_WORDS = ("context length", "context size", "context window", "prompt is too long")


@dataclass
class ErrorContext:
    """What the mapper needs to write a useful hint, and the keys a message must not show
    (a server may echo the key it was sent, or any other, in its error body)."""

    provider: str
    model: str = ""
    key_env: str | None = None
    known_models: list[str] = field(default_factory=list)
    secrets: tuple[str, ...] = ()
    base_url: str = ""  # where requests went, for the hint on a wrong path

    def parse_error(self, message: str) -> ParseError:
        return ParseError(redact(f"{self.provider}: {message}", self.secrets))


@dataclass
class _Body:
    message: str
    type: str = ""
    code: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def _read_body(content: bytes) -> _Body:
    text = content.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _Body(text[:300] or "(empty body)")
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):  # Ollama
        return _Body(error)
    if isinstance(error, dict):
        return _Body(
            str(error.get("message") or error),
            str(error.get("type") or ""),
            str(error.get("code") or ""),
            error,
        )
    if isinstance(data, dict) and "message" in data:
        return _Body(str(data["message"]), str(data.get("type", "")))
    return _Body(text[:300])


def error_from_body(status: int, content: bytes, ctx: ErrorContext) -> ProviderError:
    """Map one error response to the right `ProviderError`; used for statuses and events."""
    body = _read_body(content)
    where = f"{ctx.provider} ({status})" if status else ctx.provider
    message = redact(f"{where}: {body.message}", ctx.secrets)
    kinds = {body.type, body.code}
    lowered = body.message.lower()

    if "insufficient_quota" in kinds or (status == 429 and "quota" in lowered):
        return QuotaExceeded(
            message, hint="the account is out of quota or credit: check its plan and billing"
        )
    context = _context_error(message, body, kinds, lowered)
    if context is not None:
        return context
    if status == 401 or kinds & {"authentication_error", "invalid_api_key"}:
        return AuthError(message, status=status, hint=_key_hint(ctx))
    if status == 403 or "permission_error" in kinds:
        return AuthError(message, status=status, hint="this key may not use this model or feature")
    if _is_missing_model(status, kinds, lowered):
        return ModelNotFound(ctx.model, message=message, hint=_model_hint(ctx))
    if status == 429 or "rate_limit_error" in kinds or "rate_limit_exceeded" in kinds:
        return RateLimited(message, hint="wait a moment and try again")
    if status in (529, 503) or "overloaded_error" in kinds or "unavailable_error" in kinds:
        return Overloaded(message, status=status or 529, hint="the server is busy; try again")
    if status == 404:
        return ApiError(message, status=404, hint=_path_hint(ctx))
    if status == 400 or "invalid_request_error" in kinds:
        return ApiError(message, status=status or 400)
    return ApiError(message, status=status or None)


def error_from_event(data: str, ctx: ErrorContext) -> ProviderError:
    """An error sent inside a stream: classified by its body, retryable by its type."""
    error = error_from_body(0, data.encode(), ctx)
    if isinstance(error, ApiError) and error.status is None:
        error.retryable = True  # an unspecified server error mid-stream, like a 500
    return error


def _context_error(
    message: str, body: _Body, kinds: set[str], lowered: str
) -> ContextTooLong | None:
    if not (
        kinds & {"context_length_exceeded", "exceed_context_size_error"}
        or any(word in lowered for word in _CONTEXT_WORDS)
    ):
        return None
    max_tokens = body.raw.get("n_ctx")
    actual = body.raw.get("n_prompt_tokens")
    for pattern in _CONTEXT_PATTERNS:
        match = pattern.search(body.message)
        if match:
            max_tokens, actual = int(match["max"]), int(match["actual"])
            break
    return ContextTooLong(
        message,
        max=max_tokens if isinstance(max_tokens, int) else None,
        actual=actual if isinstance(actual, int) else None,
        hint="shorten the prompt or input, or use a model with a larger context window",
    )


def _is_missing_model(status: int, kinds: set[str], lowered: str) -> bool:
    if "model_not_found" in kinds:
        return True
    if status == 404 or "not_found_error" in kinds:
        # The model named, not a bare "not found" or a path like /v1/models: a wrong path.
        return re.search(r"\bmodel\b", lowered) is not None
    return False


def _path_hint(ctx: ErrorContext) -> str:
    where = f" ({ctx.base_url})" if ctx.base_url else ""
    return (
        f"the server has no such endpoint: check base_url{where} in codive.toml or "
        "--base-url; OpenAI-compatible servers serve under /v1, e.g. http://127.0.0.1:8080/v1"
    )


def _key_hint(ctx: ErrorContext) -> str:
    if ctx.key_env:
        return f"check the API key: set {ctx.key_env} or [provider] api_key in codive.toml"
    return "check the API key in codive.toml ([provider] api_key or api_key_env)"


def _model_hint(ctx: ErrorContext) -> str:
    if ctx.known_models:
        shown = ", ".join(ctx.known_models[:8])
        return f"known models: {shown} (see `codive models --provider {ctx.provider}`)"
    return f"list the models with `codive models --provider {ctx.provider}`"
