"""What a conversation has cost: tokens and dollars per model, and the one-line summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from codive_cli.provider import ModelInfo, Usage


def usage_line(usage: Usage, model: str, info: ModelInfo | None) -> str:
    """`model · 1,234 in · 56 out · $0.0012`; a model with no known price says unpriced."""
    cost = info.cost(usage) if info else None
    price = f"${cost:.4f}" if cost is not None else "unpriced"
    return f"{model} · {usage.input_tokens:,} in · {usage.output_tokens:,} out · {price}"


@dataclass
class Spend:
    """Tokens and cost per model, side calls (summaries) included."""

    by_model: dict[str, Usage] = field(default_factory=dict)
    info: dict[str, ModelInfo | None] = field(default_factory=dict)

    def add(self, model: str, usage: Usage, info: ModelInfo | None) -> None:
        self.by_model[model] = self.by_model.get(model, Usage()) + usage
        self.info.setdefault(model, info)

    def describe(self) -> str:
        if not self.by_model:
            return "no tokens used yet"
        lines, total, unpriced = [], 0.0, False
        for model, usage in self.by_model.items():
            info = self.info.get(model)
            cost = info.cost(usage) if info else None
            shown = f"${cost:.4f}" if cost is not None else "unpriced"
            lines.append(
                f"{model}: {usage.input_tokens:,} in · {usage.output_tokens:,} out · {shown}"
            )
            total += cost or 0
            unpriced = unpriced or cost is None
        priced = f"${total:.4f}" + (" (plus unpriced models)" if unpriced and total else "")
        lines.append("total: " + ("unpriced" if unpriced and not total else priced))
        return "\n".join(lines)
