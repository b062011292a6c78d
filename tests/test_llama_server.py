"""The seed's provider tests, run against a real llama-server on 127.0.0.1."""

from __future__ import annotations

import pytest

from codive_cli.provider import (
    ChatMessage,
    CompletionRequest,
    Done,
    ProviderConfig,
    StreamError,
    TextDelta,
)
from codive_cli.providers import create_provider

pytestmark = pytest.mark.llama


def local(url: str) -> ProviderConfig:
    return ProviderConfig("local_llm", model="local-7b", base_url=url)


def anthropic_on(url: str) -> ProviderConfig:
    # llama-server also speaks the Messages API at /v1/messages.
    return ProviderConfig("anthropic", model="local-7b", base_url=url, api_key="unused")


def hello(max_tokens: int = 100) -> CompletionRequest:
    return CompletionRequest([ChatMessage("user", "Hello, world!")], max_tokens=max_tokens)


@pytest.mark.parametrize("make", [local, anthropic_on], ids=["local_llm", "anthropic"])
async def test_complete(llama_url: str, make: type) -> None:
    async with create_provider(make(llama_url)) as provider:
        response = await provider.complete(hello())
    assert response.content.strip()
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.stop_reason in ("end_turn", "max_tokens")


@pytest.mark.parametrize("make", [local, anthropic_on], ids=["local_llm", "anthropic"])
async def test_streaming(llama_url: str, make: type) -> None:
    request = CompletionRequest([ChatMessage("user", "Count to 5")], max_tokens=100)
    output = []
    async with create_provider(make(llama_url)) as provider:
        events = [event async for event in provider.stream(request)]
    output = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(output).strip()
    assert len(output) > 1  # it really streamed
    assert not any(isinstance(e, StreamError) for e in events)
    assert isinstance(events[-1], Done) and events[-1].usage.output_tokens > 0


async def test_token_limit_is_reported_as_truncation(llama_url: str) -> None:
    async with create_provider(local(llama_url)) as provider:
        request = CompletionRequest([ChatMessage("user", "Write a long story.")], max_tokens=5)
        events = [event async for event in provider.stream(request)]
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "max_tokens"


async def test_models_come_from_the_server(llama_url: str) -> None:
    config = ProviderConfig("local_llm", base_url=llama_url)
    async with create_provider(config) as provider:
        models = await provider.list_models()
        assert len(models) == 1
        assert models[0].id.endswith(".gguf")
        assert models[0].context_window == 2048  # what the server was started with
        # no model configured: the one the server lists is used
        response = await provider.complete(hello(max_tokens=8))
    assert response.content


async def test_context_too_long_from_the_real_server(llama_url: str) -> None:
    from codive_cli.errors import ContextTooLong

    prompt = "word " * 5000
    async with create_provider(local(llama_url)) as provider:
        with pytest.raises(ContextTooLong) as caught:
            await provider.complete(CompletionRequest([ChatMessage("user", prompt)]))
    assert caught.value.max == 2048
    assert caught.value.actual is not None and caught.value.actual > 2048


async def test_guide_example_tests_pass_against_the_real_server(llama_url: str) -> None:
    """The two tests printed in docs/custom-providers.md, run as printed (URL aside)."""
    import re
    import sys
    from pathlib import Path

    root = Path(__file__).parent.parent
    guide = (root / "docs" / "custom-providers.md").read_text()
    section = guide.split("## Testing your provider", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    sys.path.insert(0, str(root / "examples" / "local_llm_plugin"))
    try:
        namespace: dict[str, object] = {}
        exec(code.group(1).replace("http://localhost:8080", llama_url), namespace)
        await namespace["test_complete"]()  # type: ignore[operator]
        await namespace["test_streaming"]()  # type: ignore[operator]
    finally:
        sys.path.remove(str(root / "examples" / "local_llm_plugin"))
