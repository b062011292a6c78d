"""The HTTP boundary shared by every provider: pooled client, timeouts, retries, SSE.

Errors from httpx and error statuses become `ProviderError`s here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import json
import os
import random
import time
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent

from codive_cli.errors import (
    NetworkError,
    Overloaded,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    StreamCutOff,
)
from codive_cli.policy.credentials import is_credential_name, known_secrets, redact
from codive_cli.provider import ProviderConfig, Retrying, StreamError, StreamEvent
from codive_cli.providers._errors import ErrorContext, error_from_body
from codive_cli.providers._wire import JsonBody

JSON_TYPE = {"content-type": "application/json"}


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts. Mirrors the official SDKs' defaults."""

    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry number `attempt` (0-based); the server's word wins."""
        if retry_after is not None and 0 <= retry_after <= self.max_retry_after:
            return retry_after
        backoff = min(self.initial_delay * 2.0**attempt, self.max_delay)
        return backoff * (1 - 0.25 * random.random())


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Parse `retry-after-ms`, then `retry-after` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value:
        with contextlib.suppress(ValueError):
            return float(value) / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


class HttpEndpoint:
    """One provider's connection pool and retry loop.

    Pass `client` to share or fake the transport (tests hand in an `httpx.AsyncClient` built
    on `httpx.MockTransport`).
    """

    def __init__(
        self,
        config: ProviderConfig,
        base_url: str,
        headers: dict[str, str],
        context: ErrorContext,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.context = dataclasses.replace(context, secrets=endpoint_secrets(config))
        self.retry = RetryPolicy()
        self.sleep: Callable[[float], Any] = asyncio.sleep
        self._client = client or _new_client(self._timeout(stream=False))
        self._owns_client = client is None
        self._headers = {**headers, **config.headers}
        self.bodies = JsonBody()

    def _read_timeout(self, *, stream: bool) -> float:
        if stream and self.config.stream_idle_timeout is not None:
            return self.config.stream_idle_timeout
        return self.config.timeout

    def _timeout(self, *, stream: bool) -> httpx.Timeout:
        return httpx.Timeout(self._read_timeout(stream=stream), connect=self.config.connect_timeout)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # --- plain requests ---------------------------------------------------------------

    async def get_json(self, path: str, *, retry: bool = True) -> Any:
        if not retry:  # a probe: one attempt, the real request that follows retries
            return await self._send("GET", path, None)
        return await self._with_retries(lambda: self._send("GET", path, None))

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        return await self._with_retries(lambda: self._send("POST", path, body))

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        with map_transport_errors(self.context.secrets):
            response = await self._client.request(
                method,
                self.url(path),
                content=None if body is None else self.bodies.encode(body),
                headers=self._headers if body is None else {**JSON_TYPE, **self._headers},
                timeout=self._timeout(stream=False),
            )
            content = await response.aread()
        if response.status_code >= 400:
            raise self._error(response, content)
        try:
            return json.loads(content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise self.context.parse_error(f"response is not JSON: {content[:200]!r}") from exc

    async def _with_retries(self, attempt_once: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return await attempt_once()
            except ProviderError as error:
                await self._before_retry(error, attempt)
                attempt += 1

    async def _before_retry(self, error: ProviderError, attempt: int) -> None:
        """Sleep before the next attempt, or re-raise `error` when there is none."""
        await self.sleep(self._retry_delay(error, attempt))

    def _retry_delay(self, error: ProviderError, attempt: int) -> float:
        """Seconds to wait before retry `attempt + 1`; re-raises `error` when there is none."""
        if not error.retryable or attempt >= self.config.max_retries:
            raise error
        retry_after = error.retry_after
        if retry_after is not None and retry_after > self.retry.max_retry_after:
            raise RateLimited(
                f"{error.message} (the server asks to wait {retry_after:.0f} s, longer than "
                f"codive waits, {self.retry.max_retry_after:.0f} s)",
                retry_after=retry_after,
                hint="try again later, or use another model or provider",
            ) from error
        return self.retry.delay(attempt, retry_after)

    def _error(self, response: httpx.Response, content: bytes) -> ProviderError:
        error = error_from_body(response.status_code, content, self.context)
        if error.retry_after is None:
            error.retry_after = retry_after_seconds(response.headers)
        should = response.headers.get("x-should-retry")
        if should in ("true", "false") and not isinstance(error, QuotaExceeded):
            error.retryable = should == "true"
        return error

    # --- streams ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def open_sse(self, path: str, body: dict[str, Any]) -> AsyncIterator[SseStream]:
        """POST and yield the response's server-sent events; error statuses raise."""
        with map_transport_errors(self.context.secrets):
            request = self._client.build_request(
                "POST",
                self.url(path),
                content=self.bodies.encode(body),
                headers={**JSON_TYPE, **self._headers, "accept": "text/event-stream"},
                timeout=self._timeout(stream=True),
            )
            response = await self._client.send(request, stream=True)
        try:
            if response.status_code >= 400:
                with map_transport_errors(self.context.secrets):
                    content = await response.aread()
                raise self._error(response, content)
            events = EventSource(response).aiter_sse()
            idle = self._read_timeout(stream=True)
            mapped = _mapped_events(events, idle, _origin(response.url), self.context.secrets)
            yield SseStream(response, mapped)
        finally:
            await response.aclose()

    async def retrying_stream(
        self, open_once: Callable[[], AsyncIterator[StreamEvent]]
    ) -> AsyncIterator[StreamEvent]:
        """Run `open_once` again after a retryable failure, but only while nothing was shown."""
        attempt = 0
        while True:
            shown = False
            failure: ProviderError | None = None
            try:
                async for event in open_once():
                    if isinstance(event, StreamError):
                        failure = event.error
                        break
                    shown = True
                    yield event
                if failure is None:
                    return
            except ProviderError as error:
                failure = error
            if shown:
                yield StreamError(failure)
                return
            try:
                delay = self._retry_delay(failure, attempt)
            except ProviderError as final:
                yield StreamError(final)
                return
            attempt += 1
            yield Retrying(_why(failure), delay, attempt, self.config.max_retries)
            await self.sleep(delay)


def _why(error: ProviderError) -> str:
    """What failed, in a few words, for the retry line ("rate limited", "overloaded")."""
    if isinstance(error, RateLimited):
        return "rate limited"
    if isinstance(error, Overloaded):
        return "the server is overloaded"
    if isinstance(error, NetworkError):
        return "network error"
    status = getattr(error, "status", None)
    return f"server error {status}" if status else "server error"


class SseStream:
    """One streamed response's events, and `release` for when the caller has heard enough.

    httpx puts a connection back in its pool only when the response was read to its end;
    closing it earlier drops the connection, and the next request opens a new one (a TCP
    and, for https, a TLS handshake on every step). A stream's terminal event
    (`[DONE]`, `message_stop`) comes just before the body's end, so `release` reads what is
    left, briefly, and the caller calls it before passing the terminal event on.
    """

    # What a well-behaved server still sends after its terminal event: the chunked body's
    # terminator, perhaps a blank line. More than this, or slower, and the connection goes.
    DRAIN_EVENTS = 16
    DRAIN_SECONDS = 1.0

    def __init__(self, response: httpx.Response, events: AsyncGenerator[ServerSentEvent]) -> None:
        self.response = response
        self._events = events

    def __aiter__(self) -> AsyncIterator[ServerSentEvent]:
        return self._events

    async def release(self) -> None:
        """Read the rest of the body so the connection can be reused, then close it."""
        with contextlib.suppress(ProviderError, TimeoutError, StopAsyncIteration):
            async with asyncio.timeout(self.DRAIN_SECONDS):
                for _ in range(self.DRAIN_EVENTS + 1):
                    await anext(self._events)
        await self._events.aclose()
        await self.response.aclose()


def _new_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    limits = httpx.Limits(max_keepalive_connections=4, keepalive_expiry=60)
    if urllib.request.getproxies():  # httpx routes through the proxies: its own transports
        return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
    transport = PerSchemeTransport(limits)
    return httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)


class PerSchemeTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, one per scheme, each built when first used.

    httpx builds its transport with a verifying TLS context up front, and loading the CA
    bundle costs 20-50 ms of every start; a local server on http:// never needs it. The https
    transport is httpx's default, verification and all. The http one has TLS switched off
    because none can happen on it: its requests go to http:// URLs and no proxy is set (with
    one, `_new_client` leaves every transport to httpx).
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._built: dict[str, httpx.AsyncHTTPTransport] = {}

    def for_scheme(self, scheme: str) -> httpx.AsyncHTTPTransport:
        if scheme not in self._built:
            verify = scheme != "http"
            self._built[scheme] = httpx.AsyncHTTPTransport(verify=verify, limits=self._limits)
        return self._built[scheme]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.for_scheme(request.url.scheme).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._built.values():
            await transport.aclose()


async def _mapped_events(
    events: AsyncIterator[ServerSentEvent], idle: float, where: str, secrets: tuple[str, ...]
) -> AsyncGenerator[ServerSentEvent]:
    """The stream's events, given up after `idle` seconds without one.

    httpx's read timeout restarts on any byte, so a server sending only SSE comments
    (`: ping`) or blank lines would hold the stream open for ever; this timer restarts only
    on an event with data. Events without data are dropped, as the SSE spec says (httpx-sse
    passes them on once an `id:` has been seen).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + idle
    while True:
        try:
            with map_transport_errors(secrets):
                async with asyncio.timeout_at(deadline):
                    event = await anext(events)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise NetworkError(
                f"no event from {where} for {idle:g} s (keep-alive comments do not count)",
                hint="raise [provider] stream_idle_timeout or timeout in codive.toml",
            ) from None
        if event.data:
            deadline = loop.time() + idle
            yield event


def endpoint_secrets(config: ProviderConfig) -> tuple[str, ...]:
    """The keys an error message from this endpoint must not show: its own key and auth
    headers, and every credential in the environment (a server may echo any of them)."""
    own = [config.api_key, os.environ.get(config.api_key_env or "")]
    for name, value in config.headers.items():
        if is_credential_name(name.replace("-", "_")):
            own += [value, value.split(" ", 1)[-1]]  # "Bearer <token>": the token alone too
    return known_secrets(os.environ, None, own)


@contextlib.contextmanager
def map_transport_errors(secrets: tuple[str, ...] = ()) -> Any:
    """Turn httpx's exceptions into `NetworkError`s with a message a person can read."""
    try:
        yield
    except httpx.TransportError as exc:
        raise _transport_error(exc, redact(str(exc), secrets)) from exc


def _transport_error(exc: httpx.TransportError, detail: str) -> NetworkError:
    where = _where(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return NetworkError(f"timed out connecting to {where}")
    if isinstance(exc, httpx.ReadTimeout):
        return NetworkError(
            f"no data from {where} within the read timeout",
            hint="raise [provider] timeout or stream_idle_timeout in codive.toml",
        )
    if isinstance(exc, httpx.TimeoutException):
        return NetworkError(f"timed out talking to {where}")
    if isinstance(exc, httpx.ConnectError):
        return NetworkError(
            f"cannot connect to {where}: {detail}",
            hint="check that the server is running and base_url is right",
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return StreamCutOff(f"connection to {where} broke: {detail}")
    return NetworkError(f"network error talking to {where}: {detail}")


def _where(exc: httpx.TransportError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:
        return "the server"
    return _origin(url)


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode()}"
