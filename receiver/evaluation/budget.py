"""Spend control: estimate a round's cost from its real prompt, and stop an evaluation cleanly
before it spends more than ``--max-cost``.

The estimate renders the prompt the Action would send (the same templates, the same attachment
notes), counts about four characters per token, and assumes an answer of ``ANSWER_TOKENS``. A
round makes one generation call when its checks pass and up to ``1 + REPAIR_ROUNDS`` when they
do not, so the plan shows both; the guard uses the worst case, which keeps the bound honest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from receiver.evaluation.ports import (
    Job,
    describe,
    estimate_cost,
    from_request,
    generation_messages,
)

CHARS_PER_TOKEN = 4
ANSWER_TOKENS = 3_000  # a small app in <file> blocks: about 12 kB of output
REPAIR_ROUNDS = 2  # the Action's default repair-rounds
ROUND2_CONTEXT = "x" * (ANSWER_TOKENS * CHARS_PER_TOKEN)  # round 1's files, shown in round 2


@dataclass(frozen=True)
class Estimate:
    """One round's planned calls: tokens in and out, and the cost range (None: unpriced)."""

    prompt_tokens: int
    answer_tokens: int
    cost_one_call: float | None
    cost_worst: float | None  # with every repair round used (each resends the conversation)


def job_of(request: dict[str, Any]) -> Job:
    """The Job the Action would see for a request."""
    return Job(
        task=str(request.get("task", "")),
        round=int(request.get("round", 1)),
        brief=str(request.get("brief", "")),
        nonce=str(request.get("nonce", "")),
        checks=list(request.get("checks") or []),
        attachments=from_request(list(request.get("attachments") or [])),
    )


def estimate_round(request: dict[str, Any], model: str) -> Estimate:
    """Estimate the tokens and cost of one round from the prompt the Action would build."""
    job = job_of(request)
    notes = [describe(att) for att in job.attachments]
    current = {"index.html": ROUND2_CONTEXT} if job.round >= 2 else None
    messages = generation_messages(job, attachment_notes=notes, current_files=current)
    prompt = sum(len(m["content"]) for m in messages) // CHARS_PER_TOKEN + 1
    one = estimate_cost(model, prompt, ANSWER_TOKENS)
    # Each repair resends the conversation so far plus the failures, and gets a new answer.
    worst_in = sum(prompt + k * (ANSWER_TOKENS + 200) for k in range(REPAIR_ROUNDS + 1))
    worst = estimate_cost(model, worst_in, ANSWER_TOKENS * (REPAIR_ROUNDS + 1))
    return Estimate(prompt, ANSWER_TOKENS, one, worst)


class Budget:
    """Spent so far against an optional ceiling in US dollars."""

    def __init__(self, max_cost: float | None) -> None:
        self.max_cost = max_cost
        self.spent = 0.0
        self.stopped = ""  # why the evaluation stopped early, or ""

    def add(self, cost: float) -> None:
        """Count what a round (or a judge call) actually cost."""
        self.spent += max(0.0, cost)

    def allows(self, estimate: float | None) -> bool:
        """True when a round estimated at `estimate` (worst case) still fits under the ceiling."""
        if self.max_cost is None:
            return True
        if self.spent >= self.max_cost:
            self.stopped = f"spent ${self.spent:.4f} of the ${self.max_cost:.4f} ceiling"
            return False
        if estimate is not None and self.spent + estimate > self.max_cost:
            self.stopped = (
                f"the next round could cost up to ${estimate:.4f}; "
                f"${self.max_cost - self.spent:.4f} of ${self.max_cost:.4f} is left"
            )
            return False
        return True
