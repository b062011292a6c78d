"""Test helpers: wire transcripts served through httpx's MockTransport."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from codive_cli.provider import ProviderConfig
from codive_cli.providers import create_provider

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


async def _body(chunks: Iterable[bytes], fail: Exception | None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    if fail is not None:
        raise fail


def sse_response(
    data: bytes, *, chunk_size: int = 64, fail: Exception | None = None
) -> httpx.Response:
    return httpx.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=_body(chunked(data, chunk_size), fail),
    )


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a queue and keeps the requests."""

    def __init__(self, *responses: httpx.Response | Handler) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.responses:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        response = self.responses.pop(0)
        return response(request) if callable(response) else response

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))

    def body(self, n: int = -1) -> Any:
        import json

        return json.loads(self.requests[n].content)


def make_provider(name: str, recorder: Recorder, **config: Any) -> Any:
    """A provider on a fake transport, with retries that do not sleep."""
    defaults: dict[str, Any] = {"api_key": "test-key"}
    defaults.update(config)
    provider: Any = create_provider(ProviderConfig(name=name, **defaults), client=recorder.client())
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    provider.http.sleep = no_sleep
    provider.sleeps = sleeps
    return provider


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment without codive's settings or vendor keys, with a home and XDG
    folders of the test's own: a codive run as a fresh user would start it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CODIVE_", "ANTHROPIC_", "OPENAI_"))
    }
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        env[name] = str(tmp_path / name.lower())
    env.update(extra)
    return env
