"""A codive provider plugin for a "LocalLLM" server: the Custom Providers guide's example."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from codive_cli.errors import ApiError, AuthError, NetworkError, ParseError, ProviderError
from codive_cli.provider import (
    CompletionRequest,
    CompletionResponse,
    Done,
    ModelInfo,
    Provider,
    ProviderConfig,
    StopReason,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
    collect,
)


class LocalLlmProvider(Provider):
    """Talks to a server that offers POST {base_url}/v1/chat/completions."""

    name = "my_local_llm"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.base_url = (config.base_url or "http://localhost:8080").rstrip("/")
        self.model = config.model or "local-7b"
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(config.timeout, connect=5.0))

    def available_models(self) -> list[ModelInfo]:
        return [
            ModelInfo("local-7b", "Local 7B", context_window=4096, max_output_tokens=2048),
            ModelInfo("local-13b", "Local 13B", context_window=8192, max_output_tokens=4096),
        ]

    def _body(self, request: CompletionRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": stream,
            "max_tokens": request.max_tokens or self.config.max_tokens,
            "temperature": request.temperature,
        }
        return {key: value for key, value in body.items() if value is not None}

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        # One code path: a complete answer is the stream, folded.
        return await collect(self.stream(request))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        url = f"{self.base_url}/v1/chat/completions"
        finish: str | None = None
        usage = Usage()
        tool_ids: dict[int, str] = {}
        try:
            async with aconnect_sse(
                self.client, "POST", url, json=self._body(request, stream=True)
            ) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                    yield StreamError(_error(source.response))
                    return
                async for sse in source.aiter_sse():
                    if sse.data == "[DONE]":
                        break
                    chunk = json.loads(sse.data)
                    if chunk.get("usage"):
                        usage = Usage(
                            chunk["usage"].get("prompt_tokens", 0),
                            chunk["usage"].get("completion_tokens", 0),
                        )
                    for choice in chunk.get("choices", []):
                        delta = choice.get("delta", {})
                        if delta.get("content"):
                            yield TextDelta(delta["content"])
                        for call in delta.get("tool_calls", []):
                            index = call.get("index", 0)
                            function = call.get("function", {})
                            if index not in tool_ids:
                                tool_ids[index] = call.get("id") or f"call_{index}"
                                yield ToolCallStart(tool_ids[index], function.get("name", ""))
                            if function.get("arguments"):
                                yield ToolCallDelta(tool_ids[index], function["arguments"])
                        finish = choice.get("finish_reason") or finish
        except httpx.TransportError as exc:
            yield StreamError(NetworkError(f"cannot reach {url}: {exc}"))
            return
        except json.JSONDecodeError as exc:
            yield StreamError(ParseError(f"bad chunk from {url}: {exc}"))
            return
        if finish is None:  # the stream stopped before the server said it was done
            yield StreamError(NetworkError(f"{url}: the stream ended early"))
            return
        reasons: dict[str, StopReason] = {"length": "max_tokens", "tool_calls": "tool_use"}
        yield Done(reasons.get(finish, "end_turn"), usage)

    async def aclose(self) -> None:
        await self.client.aclose()


def _error(response: httpx.Response) -> ProviderError:
    text = response.text[:300]
    if response.status_code in (401, 403):
        return AuthError(f"LocalLLM rejected the key: {text}", status=response.status_code)
    return ApiError(
        f"LocalLLM answered {response.status_code}: {text}", status=response.status_code
    )
