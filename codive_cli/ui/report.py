"""One-line notes on stderr: usage and cost after an answer, warnings, errors."""

from __future__ import annotations

from rich.console import Console

from codive_cli.provider import CompletionResponse, ModelInfo, Usage


def usage_line(usage: Usage, model: str, info: ModelInfo | None) -> str:
    """`model · 1,234 in · 56 out · $0.0012`; a model with no known price says unpriced."""
    cost = info.cost(usage) if info else None
    price = f"${cost:.4f}" if cost is not None else "unpriced"
    return f"{model} · {usage.input_tokens:,} in · {usage.output_tokens:,} out · {price}"


class Reporter:
    def __init__(self, console: Console) -> None:
        self.console = console

    def warn(self, message: str) -> None:
        self.console.print(f"warning: {message}", style="yellow", markup=False)

    def outcome(self, response: CompletionResponse, info: ModelInfo | None) -> None:
        if response.stop_reason == "max_tokens":
            self.warn("the answer was cut off at the token limit; raise --max-tokens for more")
        elif response.stop_reason == "refusal":
            self.warn("the model declined to answer")
        for name in response.truncated_tool_calls:
            self.warn(f"the call to {name} was cut off by the token limit and was not run")
        model = response.model or (info.id if info else "model")
        self.console.print(usage_line(response.usage, model, info), style="dim", markup=False)
