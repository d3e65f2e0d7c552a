"""Aggregate scored rounds into the figures the report shows (pure): pass rates per check, per
task × model and per model, with tokens, cost and time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from receiver.evaluation.outcome import Outcome, RoundScore


@dataclass
class Tally:
    """Passes out of scored attempts (unscored attempts are counted apart)."""

    passed: int = 0
    scored: int = 0
    unscored: int = 0

    def add(self, outcome: Outcome) -> None:
        if outcome.passed is None:
            self.unscored += 1
        else:
            self.scored += 1
            self.passed += int(outcome.passed)

    @property
    def rate(self) -> float | None:
        return self.passed / self.scored if self.scored else None

    def show(self) -> str:
        """ "3/4 (75%)", "–" when nothing was scored."""
        if not self.scored:
            return "not scored" if self.unscored else "–"
        return f"{self.passed}/{self.scored} ({100 * self.passed / self.scored:.0f}%)"


@dataclass
class Summary:
    """Totals over a set of rounds (one task × model, or one model)."""

    rounds: int = 0
    rounds_passed: int = 0  # every scored deterministic check passed
    checks: Tally = field(default_factory=Tally)
    judged: Tally = field(default_factory=Tally)
    tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    generators: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def add(self, r: RoundScore) -> None:
        self.rounds += 1
        self.rounds_passed += int(r.passed_all)
        for o in r.outcomes:
            (self.judged if o.group == "judge" else self.checks).add(o)
        self.tokens += r.tokens
        self.cost_usd += r.cost_usd
        self.seconds += r.seconds
        if r.generator:
            self.generators.add(r.generator)
        if r.error:
            self.errors.append(f"{r.label} run {r.run}: {r.error}")

    @property
    def mean_seconds(self) -> float:
        return self.seconds / self.rounds if self.rounds else 0.0


def ordered(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def models_of(rounds: list[RoundScore]) -> list[str]:
    return ordered(r.model for r in rounds)


def tasks_of(rounds: list[RoundScore]) -> list[str]:
    return ordered(r.task for r in rounds)


def summarise(rounds: Iterable[RoundScore]) -> Summary:
    """Totals over some rounds."""
    out = Summary()
    for r in rounds:
        out.add(r)
    return out


def per_model(rounds: list[RoundScore]) -> dict[str, Summary]:
    """Each model's totals over every task."""
    return {m: summarise(r for r in rounds if r.model == m) for m in models_of(rounds)}


def per_task_model(rounds: list[RoundScore], task: str) -> dict[str, Summary]:
    """One task's totals for each model."""
    return {
        m: summarise(r for r in rounds if r.model == m and r.task == task)
        for m in models_of(rounds)
    }


def check_rows(
    rounds: list[RoundScore], task: str, *, judged: bool = False
) -> list[tuple[str, str, dict[str, Tally]]]:
    """(round label, check key, tally per model) for one task, in the order checks appear."""
    rows: dict[tuple[str, str], dict[str, Tally]] = {}
    for r in rounds:
        if r.task != task:
            continue
        label = r.label.removeprefix(f"{task} ")
        for o in r.outcomes:
            if (o.group == "judge") != judged:
                continue
            row = rows.setdefault((label, o.key), {})
            row.setdefault(r.model, Tally()).add(o)
    return [(label, key, tallies) for (label, key), tallies in rows.items()]
