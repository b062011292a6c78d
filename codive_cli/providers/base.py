"""The skeleton every HTTP provider shares; a wire format subclasses it with its own parts.

`HttpProvider` sets up the endpoint, sends requests, runs the stream loop with its cut-off
check and lists models. A wire format (anthropic.py, openai.py) says only what is its own:
where requests go (`path`, `base_url`, `headers`), the request body (`body`), how a reply
reads back (`reply_events`, a `WireParser` for streams) and how a model list reads
(`parse_models`, used when `models_path` is set).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
from httpx_sse import ServerSentEvent

from codive_cli.errors import ConfigError, ProviderError, StreamCutOff
from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    CompletionResponse,
    ModelInfo,
    Provider,
    ProviderConfig,
    StreamError,
    StreamEvent,
    Usage,
    fold,
)
from codive_cli.providers._errors import ErrorContext, error_from_event
from codive_cli.providers._http import HttpEndpoint
from codive_cli.providers._wire import PerObject


class WireParser(abc.ABC):
    """Turns one stream's server-sent events into ours; `finished` once it has said all."""

    def __init__(self, context: ErrorContext) -> None:
        self.context = context
        self.finished = False
        self.usage = Usage()
        self.id = ""
        self.model = ""

    @abc.abstractmethod
    def feed(self, sse: ServerSentEvent) -> list[StreamEvent]:
        """The events one server-sent event carries (often none)."""

    def end(self) -> StreamEvent:
        """The last event when the server stopped sending before `finished`: a cut-off."""
        return StreamError(StreamCutOff(f"{self.context.provider}: the stream ended early"))

    def fail(self, error: ProviderError) -> list[StreamEvent]:
        self.finished = True
        return [StreamError(error)]

    def bad_data(self, what: str, data: str) -> list[StreamEvent]:
        return self.fail(self.context.parse_error(f"bad {what}: {data[:200]!r}"))

    def error_event(self, data: str) -> list[StreamEvent]:
        """An error the server sent inside the stream."""
        return self.fail(error_from_event(data, self.context))


class HttpProvider(Provider):
    """A provider over HTTP with server-sent events. Subclasses fill in the wire format."""

    path: ClassVar[str]
    default_base_url: ClassVar[str]
    default_model: ClassVar[str] = ""
    key_env: ClassVar[str | None] = None
    key_required: ClassVar[bool] = True
    # Who the key is for in the missing-key message; None: the endpoint's label.
    key_owner: ClassVar[str | None] = None
    # Where the server lists its models; None: `list_models` is the built-in catalogue.
    models_path: ClassVar[str | None] = None
    stop_field: ClassVar[str] = "stop"

    def __init__(self, config: ProviderConfig, *, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(config)
        config.model = config.model or self.default_model
        self.model = config.model
        context = ErrorContext(
            config.display_name,
            self.model,
            config.api_key_env or self.key_env,
            [m.id for m in self.available_models()],
            base_url=self.base_url(),
        )
        self.http = HttpEndpoint(config, self.base_url(), self.headers(), context, client)
        self._wire = PerObject(self.wire_message)

    # --- the wire format's parts ---------------------------------------------------------

    def base_url(self) -> str:
        return (self.config.base_url or self.default_base_url).rstrip("/")

    @abc.abstractmethod
    def headers(self) -> dict[str, str]:
        """Headers every request carries (the key, the API version)."""

    @abc.abstractmethod
    async def body(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        """The JSON body of a request."""

    @abc.abstractmethod
    def wire_message(self, message: ChatMessage) -> Any:
        """One message in the wire format; made once per message (`wire_messages`)."""

    @abc.abstractmethod
    def reply_events(self, data: Any) -> list[StreamEvent]:
        """A non-streamed reply as the events a stream would have carried."""

    @abc.abstractmethod
    def parser(self) -> WireParser:
        """A fresh parser for one stream."""

    def parse_models(self, data: Any) -> list[ModelInfo]:
        """The server's model list (from `models_path`) as `ModelInfo`s."""
        return []

    # --- the skeleton ----------------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        data = await self.http.post_json(self.path, await self.body(request, stream=False))
        return fold(self.reply_events(data))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        body = await self.body(request, stream=True)
        async for event in self.http.retrying_stream(lambda: self._stream_once(body)):
            yield event

    async def _stream_once(self, body: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        parser = self.parser()
        async with self.http.open_sse(self.path, body) as events:
            async for sse in events:
                produced = parser.feed(sse)
                if parser.finished:
                    # Back to the pool before the last event: a caller may stop listening
                    # once it has it, and an unread response costs the connection.
                    await events.release()
                for event in produced:
                    yield event
                if parser.finished:
                    return
        yield parser.end()

    async def list_models(self) -> list[ModelInfo]:
        if self.models_path is None:
            return self.available_models()
        return self.parse_models(await self.http.get_json(self.models_path))

    async def aclose(self) -> None:
        await self.http.aclose()

    # --- helpers for bodies ------------------------------------------------------------------

    def wire_messages(self, messages: list[ChatMessage]) -> list[Any]:
        """`wire_message` of each, reused from the last request for the messages it had."""
        wired = [self._wire(message) for message in messages]
        self._wire.keep(messages)
        return wired

    def require_key(self) -> None:
        """A request without the key it needs is a configuration error, said before sending."""
        if not self.key_required or self.config.api_key:
            return
        env = self.config.api_key_env or self.key_env or "the provider's key variable"
        raise ConfigError(
            f"no API key for {self.key_owner or self.config.display_name}",
            hint=f"set {env} or [provider] api_key in codive.toml",
        )

    def sampling(self, request: CompletionRequest) -> dict[str, Any]:
        """The body's temperature (the request's, else the configured one) and stop list."""
        fields: dict[str, Any] = {}
        temperature = request.temperature
        if temperature is None:
            temperature = self.config.temperature
        if temperature is not None:
            fields["temperature"] = temperature
        if request.stop:
            fields[self.stop_field] = request.stop
        return fields
