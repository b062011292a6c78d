"""Any OpenAI-compatible server: llama.cpp's llama-server, Ollama, vLLM, LM Studio."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from codive_cli.provider import CompletionRequest, ModelInfo
from codive_cli.providers.openai import OpenAIChatProvider

DEFAULT_BASE_URL = "http://localhost:8080"


class LocalLlmProvider(OpenAIChatProvider):
    """The Chat Completions wire format at `base_url`; the key is optional.

    With no model configured, the first model the server lists is used (llama-server and
    LM Studio serve whatever they loaded; Ollama and vLLM need the name).
    """

    name = "local_llm"
    default_base_url = DEFAULT_BASE_URL
    key_required = False

    def base_url(self) -> str:
        base = (self.config.base_url or DEFAULT_BASE_URL).rstrip("/")
        if urlsplit(base).path in ("", "/"):
            base += "/v1"
        return base

    def available_models(self) -> list[ModelInfo]:
        if not self.config.model:
            return []
        return [ModelInfo(self.config.model, self.config.model, provider=self.config.display_name)]

    async def list_models(self) -> list[ModelInfo]:
        data = await self.http.get_json("/models")
        entries: list[dict[str, Any]] = data.get("data") or data.get("models") or []
        return [self._model_info(entry) for entry in entries if entry.get("id")]

    def _model_info(self, entry: dict[str, Any]) -> ModelInfo:
        meta = entry.get("meta") or {}
        context = entry.get("max_model_len") or entry.get("context_length") or meta.get("n_ctx")
        return ModelInfo(
            id=entry["id"],
            name=entry.get("name") or entry["id"],
            context_window=context if isinstance(context, int) else None,
            max_output_tokens=None,
            provider=self.config.display_name,
        )

    async def resolve_model(self, request: CompletionRequest) -> str:
        if request.model or self.model:
            return request.model or self.model
        models = await self.list_models()
        self.model = models[0].id if models else "default"
        self.http.context.model = self.model
        return self.model
