"""The provider contract: the seed's types in Python, and the `Provider` base class.

Everything a provider receives or returns is defined here, with no HTTP and no terminal code,
so that the agent loop, the UI and third-party providers share one vocabulary.
"""

from __future__ import annotations

import abc
import base64
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from codive_cli.errors import ParseError, ProviderError

__all__ = [
    "ChatMessage",
    "CompletionRequest",
    "CompletionResponse",
    "Done",
    "Image",
    "ModelInfo",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ResponseBuilder",
    "StopReason",
    "StreamError",
    "StreamEvent",
    "TextDelta",
    "Thinking",
    "ThinkingDelta",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallStart",
    "ToolDefinition",
    "Usage",
    "collect",
    "fold",
]

Role = Literal["system", "user", "assistant", "tool"]
StopReason = Literal["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal"]


@dataclass(frozen=True)
class ToolDefinition:
    """A tool the model may call; `parameters` is a JSON schema object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A tool call made by the model.

    `arguments` is the parsed JSON object. When the model sent arguments that are not a JSON
    object, `arguments` is empty and `arguments_error` says why, so the loop can send the
    error back to the model instead of running the tool.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_error: str | None = None


@dataclass(frozen=True)
class Thinking:
    """A reasoning block. Anthropic requires it back, signature intact, on the next turn."""

    text: str = ""
    signature: str | None = None
    redacted_data: str | None = None


@dataclass(frozen=True)
class Image:
    """An image attached to a user message: its MIME type (image/png, image/jpeg, image/gif,
    image/webp), its bytes, and the name it was attached by (shown, never sent)."""

    media_type: str
    data: bytes = field(repr=False)  # never in a repr, a log line or a terminal
    name: str = ""

    def encoded(self) -> str:
        """The bytes as base64, the way both wire formats and session files carry them."""
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation.

    An assistant message carries the tool calls it made (and its thinking, for providers
    that need it back); a tool message answers one call by `tool_call_id`; a user message
    may carry images (for models that take them: `Provider.supports_images`).
    """

    role: Role
    content: str = ""
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    is_error: bool = False
    thinking: tuple[Thinking, ...] = ()
    images: tuple[Image, ...] = ()


@dataclass
class Usage:
    """Token counts of one call, or a running total of several."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass
class CompletionRequest:
    """What is sent to a provider. `model` overrides the provider's configured model."""

    messages: list[ChatMessage]
    tools: list[ToolDefinition] = field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] | None = None
    model: str | None = None


@dataclass
class CompletionResponse:
    """A whole reply. `truncated_tool_calls` names calls cut off by the token limit."""

    id: str
    content: str
    tool_calls: list[ToolCall]
    usage: Usage
    stop_reason: StopReason = "end_turn"
    model: str = ""
    thinking: list[Thinking] = field(default_factory=list)
    truncated_tool_calls: list[str] = field(default_factory=list)

    def to_message(self) -> ChatMessage:
        """The assistant message to append to the conversation."""
        return ChatMessage(
            role="assistant",
            content=self.content,
            tool_calls=tuple(self.tool_calls),
            thinking=tuple(self.thinking),
        )


@dataclass(frozen=True)
class ModelInfo:
    """A model a provider offers. Prices are US dollars per million tokens, None if unknown;
    `images`: whether it takes images in user messages, None if unknown."""

    id: str
    name: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_price: float | None = None
    output_price: float | None = None
    provider: str = ""
    images: bool | None = None

    def cost(self, usage: Usage) -> float | None:
        if self.input_price is None or self.output_price is None:
            return None
        return (
            usage.input_tokens * self.input_price + usage.output_tokens * self.output_price
        ) / 1_000_000


# --- stream events -----------------------------------------------------------------------


@dataclass(frozen=True)
class TextDelta:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True)
class ThinkingDelta:
    """Reasoning text; `signature` or `redacted_data` arrive on their own deltas."""

    text: str = ""
    signature: str | None = None
    redacted_data: str | None = None
    type: Literal["thinking"] = "thinking"


@dataclass(frozen=True)
class ToolCallStart:
    id: str
    name: str
    type: Literal["tool_call_start"] = "tool_call_start"


@dataclass(frozen=True)
class ToolCallDelta:
    id: str
    arguments: str
    type: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass(frozen=True)
class Done:
    stop_reason: StopReason
    usage: Usage
    id: str = ""
    model: str = ""
    type: Literal["done"] = "done"


@dataclass(frozen=True)
class StreamError:
    """The stream failed; nothing follows. `error` says how, `retryable` whether to retry."""

    error: ProviderError
    type: Literal["error"] = "error"


@dataclass(frozen=True)
class Retrying:
    """A request failed before anything was shown and is sent again after `delay` seconds:
    retry `attempt` of at most `attempts`. Only for the person to see; folds to nothing."""

    reason: str
    delay: float
    attempt: int
    attempts: int
    type: Literal["retrying"] = "retrying"


StreamEvent = (
    TextDelta | ThinkingDelta | ToolCallStart | ToolCallDelta | Done | StreamError | Retrying
)


class ResponseBuilder:
    """Folds stream events into a `CompletionResponse`: the one place deltas are joined."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self._thinking: list[dict[str, Any]] = []
        self._calls: dict[str, tuple[str, list[str]]] = {}
        self.done: Done | None = None

    def feed(self, event: StreamEvent) -> None:
        match event:
            case TextDelta(text=text):
                self.text.append(text)
            case ThinkingDelta():
                self._feed_thinking(event)
            case ToolCallStart(id=call_id, name=name):
                self._calls[call_id] = (name, [])
            case ToolCallDelta(id=call_id, arguments=fragment):
                if call_id not in self._calls:
                    raise ParseError(f"tool call arguments for unknown call id {call_id!r}")
                self._calls[call_id][1].append(fragment)
            case Done():
                self.done = event
            case StreamError(error=error):
                raise error

    def _feed_thinking(self, event: ThinkingDelta) -> None:
        if event.redacted_data is not None:
            self._thinking.append({"text": "", "redacted_data": event.redacted_data})
            return
        if not self._thinking or self._thinking[-1].get("closed"):
            self._thinking.append({"text": ""})
        block = self._thinking[-1]
        block["text"] += event.text
        if event.signature:
            block["signature"] = event.signature
            block["closed"] = True

    def build(self) -> CompletionResponse:
        if self.done is None:
            raise ParseError("the stream ended without a stop event")
        calls: list[ToolCall] = []
        truncated: list[str] = []
        for call_id, (name, fragments) in self._calls.items():
            call = parse_tool_call(call_id, name, "".join(fragments))
            if call.arguments_error and self.done.stop_reason == "max_tokens":
                truncated.append(name)  # cut off by the token limit: never to be run
            else:
                calls.append(call)
        thinking = [
            Thinking(b["text"], b.get("signature"), b.get("redacted_data")) for b in self._thinking
        ]
        return CompletionResponse(
            id=self.done.id,
            content="".join(self.text),
            tool_calls=calls,
            usage=self.done.usage,
            stop_reason=self.done.stop_reason,
            model=self.done.model,
            thinking=thinking,
            truncated_tool_calls=truncated,
        )


def parse_tool_call(call_id: str, name: str, raw: str) -> ToolCall:
    """Parse a tool call's argument string once; an empty string means no arguments.

    Arguments that cannot be used safely make a call with an `arguments_error` (the loop
    answers it with an error result): not JSON, not an object, or a value nothing downstream
    can take (see `arguments_problem`).
    """
    if not raw.strip():
        return ToolCall(call_id, name, {})
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return _refused(call_id, name, f"arguments are not valid JSON ({exc.msg})", raw)
    except RecursionError:
        return _refused(call_id, name, _TOO_DEEP, raw)
    if not isinstance(value, dict):
        return _refused(call_id, name, "arguments must be a JSON object", raw)
    problem = arguments_problem(value)
    if problem:
        return _refused(call_id, name, problem, raw)
    return ToolCall(call_id, name, value)


MAX_ARGUMENT_DEPTH = 64  # far beyond any tool's schema, far below Python's recursion limit
_TOO_DEEP = f"arguments are nested too deeply (more than {MAX_ARGUMENT_DEPTH} levels)"
_SURROGATE = re.compile("[\ud800-\udfff]")
_QUOTED_CHARS = 200


def arguments_problem(arguments: dict[str, Any]) -> str | None:
    """Why parsed arguments cannot be used, or None.

    Two things pass `json.loads` and then break whatever handles the call next: nesting
    deep enough that encoding it again (for the session, `--json`, the next request) runs out
    of stack, and a lone surrogate (a `\\ud800` escape without its pair), which no UTF-8
    output, file or process argument can carry.
    """
    stack: list[tuple[Any, int]] = [(arguments, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_ARGUMENT_DEPTH:
            return _TOO_DEEP
        if isinstance(value, dict):
            stack.extend((item, depth) for item in value)  # keys: checked as strings
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and (bad := _SURROGATE.search(value)):
            return (
                f"arguments hold a lone surrogate (\\u{ord(bad.group()):04x}), half of a "
                "UTF-16 pair and not valid Unicode; write the character itself"
            )
    return None


def _refused(call_id: str, name: str, problem: str, raw: str) -> ToolCall:
    quoted = repr(raw[:_QUOTED_CHARS])  # repr: escapes what cannot be printed
    if len(raw) > _QUOTED_CHARS:
        quoted += f"... ({len(raw):,} characters)"
    return ToolCall(call_id, name, {}, f"{problem}: {quoted}")


def fold(events: Iterable[StreamEvent]) -> CompletionResponse:
    """Fold already-known events (a non-streamed reply) into a response."""
    builder = ResponseBuilder()
    for event in events:
        builder.feed(event)
    return builder.build()


async def collect(events: AsyncIterator[StreamEvent]) -> CompletionResponse:
    """Drain a stream into a response; a `StreamError` is raised as its `ProviderError`."""
    builder = ResponseBuilder()
    async for event in events:
        builder.feed(event)
    return builder.build()


# --- configuration and the base class -----------------------------------------------------


@dataclass
class ProviderConfig:
    """Everything needed to build a provider: the seed's keys plus connection settings.

    `name` is the registered provider (its kind); `label` is the name the person used, e.g.
    "groq" for a `[providers.groq]` table of kind "openai".
    """

    name: str
    model: str = ""
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 60.0
    connect_timeout: float = 5.0
    stream_idle_timeout: float | None = None
    max_retries: int = 2
    headers: dict[str, str] = field(default_factory=dict)
    label: str = ""
    api_key_env: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    chosen_by: str = "flag"

    @property
    def display_name(self) -> str:
        return self.label or self.name


class Provider(abc.ABC):
    """A model backend. Subclasses set `name` and implement the four methods below."""

    name: ClassVar[str]

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.on_notice: Callable[[str], None] | None = None
        self._noticed: set[str] = set()
        # False when the model cannot call tools (known after `start`); None: assume it can.
        self.supports_tools: bool | None = None

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Get ready before the first request (e.g. start a local server); idempotent."""

    def notice(self, message: str) -> None:
        """Tell the person something once (the CLI shows it on stderr)."""
        if message not in self._noticed and self.on_notice is not None:
            self._noticed.add(message)
            self.on_notice(message)

    @abc.abstractmethod
    def available_models(self) -> list[ModelInfo]:
        """The models this provider knows without asking a server."""

    async def list_models(self) -> list[ModelInfo]:
        """The models on offer; servers that can say (local ones) are asked."""
        return self.available_models()

    @abc.abstractmethod
    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        """Send the request and return the whole reply."""

    @abc.abstractmethod
    def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        """Send the request and yield events; the last one is `Done` or `StreamError`."""

    def model_info(self, model_id: str | None = None) -> ModelInfo | None:
        """Catalogue entry of a model (the configured one by default), if known."""
        wanted = model_id or self.config.model
        for info in self.available_models():
            if info.id == wanted:
                return info
        return None

    def supports_images(self, model_id: str | None = None) -> bool | None:
        """Whether the model (the configured one by default) takes images: the endpoint's
        `images` setting if it has one, else its catalogue entry; None when unknown."""
        setting = self.config.options.get("images")
        if isinstance(setting, bool):
            return setting
        info = self.model_info(model_id)
        return info.images if info is not None else None

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections and processes; the provider is unusable afterwards."""

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
