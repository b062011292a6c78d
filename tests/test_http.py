"""The HTTP boundary: retries, Retry-After, timeouts, connection reuse, error mapping."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from codive_cli.errors import ApiError, NetworkError, ProviderError, RateLimited, StreamCutOff
from codive_cli.provider import ChatMessage, CompletionRequest, StreamError, collect
from codive_cli.providers._http import RetryPolicy, retry_after_seconds
from tests.helpers import Recorder, fixture_bytes, make_provider, sse_response

REQUEST = CompletionRequest([ChatMessage("user", "hi")])
OK = fixture_bytes("openai/completion_text.json")


def ok() -> httpx.Response:
    return httpx.Response(200, content=OK)


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, content=b'{"error": {"message": "nope"}}', headers=headers)


def test_retry_after_forms() -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert retry_after_seconds(httpx.Headers({"retry-after": "7"})) == 7.0
    assert retry_after_seconds(httpx.Headers({"retry-after": "0.25"})) == 0.25
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= (retry_after_seconds(httpx.Headers({"retry-after": future})) or 0) <= 31
    assert retry_after_seconds(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy()
    for attempt, nominal in [(0, 0.5), (1, 1.0), (2, 2.0), (6, 8.0)]:
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(0.75 * nominal <= d <= nominal for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert policy.delay(0, 3.0) == 3.0  # the server's word wins


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 529])
async def test_retryable_statuses_are_retried(code: int) -> None:
    recorder = Recorder(status(code), ok())
    provider = make_provider("openai", recorder)
    response = await provider.complete(REQUEST)
    assert response.content
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(code: int) -> None:
    recorder = Recorder(status(code), ok())
    provider = make_provider("openai", recorder)
    with pytest.raises(Exception):  # noqa: B017 - the kind is checked in the provider tests
        await provider.complete(REQUEST)
    assert len(recorder.requests) == 1


async def test_retry_count_is_bounded_by_config() -> None:
    recorder = Recorder(*[status(500)] * 5)
    provider = make_provider("openai", recorder, max_retries=3)
    with pytest.raises(ApiError):
        await provider.complete(REQUEST)
    assert len(recorder.requests) == 4
    assert len(provider.sleeps) == 3


async def test_retry_after_header_sets_the_wait() -> None:
    recorder = Recorder(
        status(429, **{"retry-after-ms": "250"}), status(503, **{"retry-after": "2"}), ok()
    )
    provider = make_provider("openai", recorder)
    await provider.complete(REQUEST)
    assert provider.sleeps == [0.25, 2.0]


async def test_retry_after_beyond_the_cap_fails_clearly() -> None:
    recorder = Recorder(status(429, **{"retry-after": "3600"}), ok())
    provider = make_provider("openai", recorder)
    with pytest.raises(RateLimited) as caught:
        await provider.complete(REQUEST)
    assert "3600 s" in caught.value.message
    assert caught.value.retry_after == 3600
    assert len(recorder.requests) == 1 and provider.sleeps == []


async def test_x_should_retry_header_overrides_the_status() -> None:
    recorder = Recorder(status(500, **{"x-should-retry": "false"}), ok())
    provider = make_provider("openai", recorder)
    with pytest.raises(ApiError):
        await provider.complete(REQUEST)
    assert len(recorder.requests) == 1

    recorder = Recorder(status(400, **{"x-should-retry": "true"}), ok())
    provider = make_provider("openai", recorder)
    assert (await provider.complete(REQUEST)).content
    assert len(recorder.requests) == 2


async def test_connection_errors_are_retried_then_reported() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    recorder = Recorder(refuse, ok())
    provider = make_provider("openai", recorder)
    assert (await provider.complete(REQUEST)).content

    recorder = Recorder(refuse, refuse, refuse)
    provider = make_provider("openai", recorder)
    with pytest.raises(NetworkError) as caught:
        await provider.complete(REQUEST)
    assert "cannot connect to https://api.openai.com" in caught.value.message
    assert caught.value.hint


async def test_stream_open_failure_is_retried_before_output() -> None:
    recorder = Recorder(status(502), sse_response(fixture_bytes("openai/text.sse")))
    provider = make_provider("openai", recorder)
    response = await collect(provider.stream(REQUEST))
    assert response.content and len(recorder.requests) == 2


async def test_stream_cut_before_any_output_is_retried() -> None:
    recorder = Recorder(
        sse_response(b"", fail=httpx.RemoteProtocolError("peer closed")),
        sse_response(fixture_bytes("openai/text.sse")),
    )
    provider = make_provider("openai", recorder)
    assert (await collect(provider.stream(REQUEST))).content
    assert len(recorder.requests) == 2


async def test_idle_stream_times_out_as_network_error() -> None:
    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    recorder = Recorder(stall, stall, stall)
    provider = make_provider("openai", recorder, stream_idle_timeout=0.5)
    events = [e async for e in provider.stream(REQUEST)]
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, NetworkError)
    assert "timeout" in events[-1].error.hint


# Bytes that keep a connection busy without an event: a comment, and a blank line after an
# `id:` (which the parser dispatches as an event with no data; the SSE spec drops it).
@pytest.mark.parametrize("keepalive", [b": ping\n\n", b"\n"], ids=["comment", "blank"])
async def test_keepalive_bytes_do_not_reset_the_idle_timer(keepalive: bytes) -> None:
    async def answer_then_ping() -> AsyncIterator[bytes]:
        yield b'id: 7\ndata: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'
        while True:  # the transport never sees a silent read
            await asyncio.sleep(0.01)
            yield keepalive

    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=answer_then_ping()
    )
    provider = make_provider("openai", Recorder(response), stream_idle_timeout=0.2)
    events = [e async for e in provider.stream(REQUEST)]
    assert isinstance(events[-1], StreamError)
    assert isinstance(events[-1].error, NetworkError)
    assert "no event" in events[-1].error.message
    assert "stream_idle_timeout" in events[-1].error.hint


async def test_timeouts_come_from_config() -> None:
    seen: list[dict[str, float | None]] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return sse_response(fixture_bytes("openai/text.sse"))

    def capture_plain(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok()

    recorder = Recorder(capture, capture_plain)
    provider = make_provider(
        "openai", recorder, timeout=30, connect_timeout=2, stream_idle_timeout=9
    )
    await collect(provider.stream(REQUEST))
    await provider.complete(REQUEST)
    assert seen[0]["connect"] == 2 and seen[0]["read"] == 9  # streams: idle timeout
    assert seen[1]["connect"] == 2 and seen[1]["read"] == 30


KEY = "sk-own-0123456789abcdef"
OTHER = "sk-ant-0123456789abcdef"


def echo(code: int, text: str) -> httpx.Response:
    return httpx.Response(code, json={"error": {"message": f"{text} {KEY} {OTHER}"}})


def assert_redacted(error: Exception) -> None:
    message = getattr(error, "message", "")
    assert message == str(error)
    assert KEY not in message and OTHER not in message
    assert message.count("[REDACTED]") == 2


@pytest.mark.parametrize("code", [401, 400, 500])
async def test_error_bodies_are_redacted_where_they_are_read(
    code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", OTHER)
    provider = make_provider(
        "openai", Recorder(*[echo(code, "bad key")] * 3), api_key=KEY, max_retries=0
    )
    with pytest.raises(ProviderError) as caught:
        await provider.complete(REQUEST)
    assert_redacted(caught.value)


async def test_stream_errors_and_bad_bodies_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", OTHER)
    event = f'data: {{"error": {{"message": "bad key {KEY} {OTHER}"}}}}\n\n'.encode()
    not_json = httpx.Response(200, content=f"<html>{KEY} {OTHER}</html>".encode())
    provider = make_provider(
        "openai", Recorder(sse_response(event), not_json), api_key=KEY, max_retries=0
    )
    events = [e async for e in provider.stream(REQUEST)]
    assert isinstance(events[-1], StreamError)
    assert_redacted(events[-1].error)
    with pytest.raises(ProviderError) as caught:
        await provider.complete(REQUEST)
    assert_redacted(caught.value)


def test_stream_cut_off_is_a_network_error_kind() -> None:
    assert issubclass(StreamCutOff, NetworkError)


async def test_one_connection_serves_many_requests() -> None:
    """A real server on 127.0.0.1 sees one TCP connection for a multi-turn session."""
    import asyncio

    peers: set[tuple[str, int]] = set()
    writers: list[asyncio.StreamWriter] = []
    body = OK

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.add(writer.get_extra_info("peername"))
        writers.append(writer)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    from codive_cli.provider import ProviderConfig
    from codive_cli.providers import create_provider

    provider = create_provider(
        ProviderConfig("local_llm", model="m", base_url=f"http://127.0.0.1:{port}")
    )
    async with provider:
        for _ in range(3):
            assert (await provider.complete(REQUEST)).content
    server.close()
    for writer in writers:
        writer.close()
        await writer.wait_closed()
    await server.wait_closed()
    assert len(peers) == 1


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def without_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def test_plain_http_loads_no_ca_bundle_and_https_still_verifies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl

    from codive_cli.providers._http import PerSchemeTransport, _new_client

    without_proxies(monkeypatch)
    client = _new_client(httpx.Timeout(5))
    transport = client._transport
    assert isinstance(transport, PerSchemeTransport)
    plain = transport.for_scheme("http")._pool._ssl_context
    secure = transport.for_scheme("https")._pool._ssl_context
    assert plain is not None and plain.cert_store_stats()["x509_ca"] == 0
    assert secure is not None and secure.cert_store_stats()["x509_ca"] > 0
    assert secure.verify_mode == ssl.CERT_REQUIRED and secure.check_hostname
    await client.aclose()


async def test_with_a_proxy_httpx_builds_its_own_transports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from codive_cli.providers._http import PerSchemeTransport, _new_client

    without_proxies(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    client = _new_client(httpx.Timeout(5))
    assert not isinstance(client._transport, PerSchemeTransport)
    assert client._mounts  # the proxy's, as httpx sets it up
    await client.aclose()
