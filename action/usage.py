"""What LLM calls cost: the price table, each answer's tokens and cost, and the running totals.

Also recognises a gateway's "budget spent" reply, which must stop the run instead of being retried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# US dollars per 1M tokens (input, output), from AI Pipe's price list.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4o-mini": (0.15, 0.60),
}

# AI Pipe answers "Usage $1.02 / $1.00 in 7 days"; OpenAI says "insufficient_quota".
_BUDGET_SPENT = re.compile(
    r"usage\s*\$?\s*[\d.]+\s*/\s*\$?\s*[\d.]+|insufficient_quota|exceeded your current quota",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    finish_reason: str = "stop"
    cost_known: bool = True

    @property
    def truncated(self) -> bool:
        """True when the model stopped at its token limit, so the answer may be cut short."""
        return self.finish_reason == "length"


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    models: list[str] = field(default_factory=list)
    unpriced_models: list[str] = field(default_factory=list)

    def add(self, c: Completion) -> None:
        """Count one completed call."""
        self.calls += 1
        self.prompt_tokens += c.prompt_tokens
        self.completion_tokens += c.completion_tokens
        self.cost_usd += c.cost_usd
        if c.model not in self.models:
            self.models.append(c.model)
        if not c.cost_known and c.model not in self.unpriced_models:
            self.unpriced_models.append(c.model)


def price_for(model: str) -> tuple[float, float] | None:
    """Per-1M-token prices for a model id, tolerating prefixes and dated suffixes."""
    name = model.rsplit("/", 1)[-1].lower()
    matches = [key for key in PRICES if name.startswith(key)]
    return PRICES[max(matches, key=len)] if matches else None


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Estimated US dollars for one call, or None when the model is not in the price table."""
    price = price_for(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


def is_budget_message(text: str) -> bool:
    """True when a gateway's reply says the account's spending budget is used up."""
    return _BUDGET_SPENT.search(text) is not None
