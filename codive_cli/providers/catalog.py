"""Models each hosted provider offers, with public limits and list prices (USD per 1M tokens).

Checked against the vendors' model pages in November 2026. Every model here takes images
but the original GPT-4. A model missing here still works when the API knows it; it is just
shown without limits, reported as unpriced, and sent no images.
"""

from __future__ import annotations

from codive_cli.provider import ModelInfo

_K = 1000
_M = 1_000_000


def _anthropic(
    id: str, name: str, ctx: int, out: int, price: tuple[float, float] | None
) -> ModelInfo:
    inp, outp = price if price else (None, None)
    return ModelInfo(id, name, ctx, out, inp, outp, provider="anthropic", images=True)


def _openai(
    id: str,
    name: str,
    ctx: int,
    out: int,
    price: tuple[float, float] | None,
    images: bool = True,
) -> ModelInfo:
    inp, outp = price if price else (None, None)
    return ModelInfo(id, name, ctx, out, inp, outp, provider="openai", images=images)


ANTHROPIC_MODELS: list[ModelInfo] = [
    _anthropic("claude-sonnet-5-5", "Claude Sonnet 5.5", _M, 128 * _K, (2, 10)),
    _anthropic("claude-opus-5-5", "Claude Opus 5.5", _M, 128 * _K, (4, 20)),
    _anthropic("claude-haiku-5-5", "Claude Haiku 5.5", _M, 128 * _K, None),
    _anthropic("claude-fable-5-1", "Claude Fable 5.1", _M, 128 * _K, (10, 50)),
    _anthropic("claude-opus-5", "Claude Opus 5", _M, 128 * _K, (5, 25)),
    _anthropic("claude-sonnet-5", "Claude Sonnet 5", _M, 128 * _K, (2, 10)),
    _anthropic("claude-haiku-4-5-20251001", "Claude Haiku 4.5", 200 * _K, 64 * _K, (1, 5)),
    _anthropic("claude-opus-4-5-20251101", "Claude Opus 4.5", 200 * _K, 64 * _K, (5, 25)),
    _anthropic("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 200 * _K, 64 * _K, (3, 15)),
    _anthropic("claude-opus-4-1-20250805", "Claude Opus 4.1", 200 * _K, 32 * _K, (15, 75)),
    _anthropic("claude-opus-4-20250514", "Claude Opus 4", 200 * _K, 32 * _K, (15, 75)),
    _anthropic("claude-sonnet-4-20250514", "Claude Sonnet 4", 200 * _K, 64 * _K, (3, 15)),
    _anthropic("claude-3-5-sonnet-20241022", "Claude 3.5 Sonnet", 200 * _K, 8192, (3, 15)),
]

# Short names people type, resolved to a catalogue entry (the API accepts both).
ANTHROPIC_ALIASES = {
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-3-5-sonnet-latest": "claude-3-5-sonnet-20241022",
}

OPENAI_MODELS: list[ModelInfo] = [
    _openai("gpt-6.2-sol", "GPT-6.2 Sol", 1_050_000, 128 * _K, (2, 10)),
    _openai("gpt-6-astra", "GPT-6 Astra", 1_050_000, 128 * _K, (10, 50)),
    _openai("gpt-6.1-terra", "GPT-6.1 Terra", 1_050_000, 128 * _K, (1, 5)),
    _openai("gpt-5", "GPT-5", 400 * _K, 128 * _K, (1.25, 10)),
    _openai("gpt-5-mini", "GPT-5 mini", 400 * _K, 128 * _K, (0.25, 2)),
    _openai("gpt-4.1", "GPT-4.1", 1_047_576, 32_768, (2, 8)),
    _openai("gpt-4.1-mini", "GPT-4.1 mini", 1_047_576, 32_768, (0.4, 1.6)),
    _openai("gpt-4o", "GPT-4o", 128 * _K, 16_384, (2.5, 10)),
    _openai("gpt-4o-mini", "GPT-4o mini", 128 * _K, 16_384, (0.15, 0.6)),
    _openai("gpt-4-turbo", "GPT-4 Turbo", 128 * _K, 4096, (10, 30)),
    _openai("gpt-4", "GPT-4", 8192, 8192, (30, 60), images=False),
]


def find(
    models: list[ModelInfo], model_id: str, aliases: dict[str, str] | None = None
) -> ModelInfo | None:
    wanted = (aliases or {}).get(model_id, model_id)
    return next((m for m in models if m.id == wanted), None)
