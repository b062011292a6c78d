"""Any OpenAI-compatible server: llama.cpp's llama-server, Ollama, vLLM, LM Studio."""

from __future__ import annotations

from urllib.parse import urlsplit

from codive_cli.errors import ProviderError
from codive_cli.provider import CompletionRequest, ModelInfo
from codive_cli.providers.openai import OpenAIChatProvider

DEFAULT_BASE_URL = "http://localhost:8080"
SMALL_CONTEXT = 16_000
# Ollama serves models with this context unless the model or request sets num_ctx (a model's
# trained context_length in /api/show is not what it runs with).
OLLAMA_DEFAULT_CONTEXT = 4096


class LocalLlmProvider(OpenAIChatProvider):
    """The Chat Completions wire format at `base_url`; the key is optional.

    With no model configured, the first model the server lists is used (llama-server and
    LM Studio serve whatever they loaded; Ollama and vLLM need the name).
    """

    name = "local_llm"
    default_base_url = DEFAULT_BASE_URL
    key_required = False
    models_path = "/models"

    def base_url(self) -> str:
        base = (self.config.base_url or DEFAULT_BASE_URL).rstrip("/")
        if urlsplit(base).path in ("", "/"):
            base += "/v1"
        return base

    _served: ModelInfo | None = None  # what the server said about the model, after start()

    def available_models(self) -> list[ModelInfo]:
        if self._served is not None:
            return [self._served]
        if not self.config.model:
            return []
        return [ModelInfo(self.config.model, self.config.model, provider=self.config.display_name)]

    async def start(self) -> None:
        """Learn the model's real context size where the server tells (llama.cpp and vLLM in
        /v1/models, Ollama in /api/show), and warn when it is too small for agent work."""
        try:
            models = self.parse_models(await self.http.get_json("/models", retry=False))
        except ProviderError:
            return  # the first real request reports the problem properly
        if not self.model:
            self.model = models[0].id if models else "default"
            self.http.context.model = self.model
        model = self.model
        info = next((m for m in models if m.id == model), None)
        window = info.context_window if info else None
        if window is None and self._looks_like_ollama():
            window = await self._ollama_context(model)
        self._served = ModelInfo(model, model, window, provider=self.config.display_name)
        if window is not None and window < SMALL_CONTEXT:
            self.notice(
                f"{model} runs with a {window:,}-token context, which tool definitions and a "
                "few files overflow; raise it (llama-server -c 32768, Ollama num_ctx)"
            )

    def _looks_like_ollama(self) -> bool:
        return ":11434" in self.base_url() or "ollama" in self.config.display_name.lower()

    async def _ollama_context(self, model: str) -> int | None:
        """Ollama: num_ctx if the model sets it, else Ollama's own default (2048/4096)."""
        root = self.base_url().removesuffix("/v1")
        try:
            show = await self.http.post_json(root + "/api/show", {"model": model})
        except ProviderError:
            return None
        for line in str(show.get("parameters") or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "num_ctx" and parts[1].isdigit():
                return int(parts[1])
        return OLLAMA_DEFAULT_CONTEXT

    async def resolve_model(self, request: CompletionRequest) -> str:
        if request.model or self.model:
            return request.model or self.model
        models = await self.list_models()
        self.model = models[0].id if models else "default"
        self.http.context.model = self.model
        return self.model
