"""The scored result of one check of one round, and of one whole round."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# notify: the notification; repo: files at commit_sha; pages: what Pages serves; static:
# index.html read as text; js: checks run in Chromium; ci: the app's own workflow; judge: an LLM.
Group = Literal["notify", "repo", "pages", "static", "js", "ci", "judge"]
GROUPS: tuple[Group, ...] = ("notify", "repo", "pages", "static", "js", "ci", "judge")
DETERMINISTIC: frozenset[Group] = frozenset(GROUPS) - {"judge"}


@dataclass(frozen=True)
class Outcome:
    """One check: passed True/False, or None when it was not scored (no browser, no key)."""

    group: Group
    name: str
    passed: bool | None
    detail: str = ""

    @property
    def key(self) -> str:
        """Stable identity of the check across runs, for pass rates."""
        return f"{self.group}: {self.name}"


@dataclass
class RoundScore:
    """Everything measured about one round of one task with one model."""

    task: str
    round: int
    label: str  # e.g. "sum-of-sales-601 r1" or "… r2a"
    model: str
    run: int  # 1..N (the --runs repetition)
    outcomes: list[Outcome] = field(default_factory=list)
    tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    generator: str = ""  # "llm" or "offline", from the Action's report
    error: str = ""  # why the round produced nothing to score, if it did not

    def deterministic(self) -> list[Outcome]:
        """The scored outcomes that need no LLM judge."""
        return [o for o in self.outcomes if o.group in DETERMINISTIC and o.passed is not None]

    def judged(self) -> list[Outcome]:
        """The scored outcomes an LLM judged."""
        return [o for o in self.outcomes if o.group == "judge" and o.passed is not None]

    @property
    def passed_all(self) -> bool:
        """True when every scored deterministic check passed (and there was something to score)."""
        scored = self.deterministic()
        return bool(scored) and all(o.passed for o in scored)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "round": self.round,
            "label": self.label,
            "model": self.model,
            "run": self.run,
            "tokens": self.tokens,
            "cost_usd": round(self.cost_usd, 6),
            "seconds": round(self.seconds, 2),
            "generator": self.generator,
            "error": self.error,
            "outcomes": [
                {"group": o.group, "check": o.name, "passed": o.passed, "detail": o.detail}
                for o in self.outcomes
            ],
        }
