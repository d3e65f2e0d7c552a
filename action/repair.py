"""The verify/repair loop: check a version, send the failures back, keep the best version.

Rounds count from 0: round 0 is the model's first answer, round k the version after the k-th
repair. A repair starts only while checks fail, fewer than ``Limits.rounds`` repairs were made,
and the tokens spent on repairs plus an estimate of the next one (the previous call's tokens)
stay within ``Limits.token_budget``. The best version has the fewest failing checks (the earliest
wins a tie); when it is not the version left on disk at the end, it is restored. Repairs are
decided from ``failed_checks``, never from "passed": a check skipped for want of a browser is not
a failure a model could fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from action.check_report import Repair, Verification, VerifiedRound, check_rows
from action.errors import LLMError, ProtocolError
from action.job import Job

State = TypeVar("State")


class Checked(Protocol):
    """What the loop needs of a verification result (``action.verify.VerifyReport``)."""

    @property
    def failures(self) -> list[str]: ...

    @property
    def failed_checks(self) -> list[str]: ...

    def to_dict(self) -> dict[str, Any]: ...


Verifier = Callable[[Path, Job], Checked]


@dataclass(frozen=True)
class Limits:
    """How much repairing a run may do: rounds (input repair-rounds) and total repair tokens."""

    rounds: int = 2
    token_budget: int = 60_000


@dataclass
class Outcome:
    """Every verified version (index = round), the repairs made, the kept round, why it stopped."""

    versions: list[Checked]
    repairs: list[Repair]
    best: int
    stopped: str

    @property
    def kept(self) -> Checked:
        return self.versions[self.best]


def _stop_reason(
    current: Checked, can_fix: bool, repairs: list[Repair], limits: Limits, next_tokens: int
) -> str:
    if not current.failed_checks:
        return "no check fails"
    if not can_fix:
        return "no model to repair with"
    if len(repairs) >= limits.rounds:
        return f"reached the bound of {limits.rounds} repair round(s)"
    spent = sum(r.tokens for r in repairs)
    if spent + next_tokens > limits.token_budget:
        return (
            f"the repair token budget ({limits.token_budget}) would be exceeded "
            f"({spent} spent, about {next_tokens} more needed)"
        )
    return ""


def repair_loop(
    check: Callable[[], Checked],
    fix: Callable[[list[str]], list[str]] | None,
    *,
    tokens: Callable[[], int],
    snapshot: Callable[[], State],
    restore: Callable[[State], None],
    limits: Limits,
    first_estimate: int = 0,
) -> Outcome:
    """Verify, then repair while allowed; ``fix(failures)`` returns the files it changed."""
    versions = [check()]
    best, best_state = 0, snapshot()
    repairs: list[Repair] = []
    estimate = first_estimate
    while not (stopped := _stop_reason(versions[-1], fix is not None, repairs, limits, estimate)):
        assert fix is not None
        record = Repair(len(repairs) + 1, list(versions[-1].failures))
        before = tokens()
        try:
            record.files_changed = sorted(fix(record.failures_sent))
        except (LLMError, ProtocolError) as exc:
            record.error = str(exc)
        record.tokens = tokens() - before
        estimate = record.tokens or estimate
        repairs.append(record)
        if record.error:
            stopped = f"repair round {record.round} failed: {record.error}"
            break
        versions.append(check())
        if len(versions[-1].failed_checks) < len(versions[best].failed_checks):
            best, best_state = len(versions) - 1, snapshot()
    if best != len(versions) - 1:
        restore(best_state)
    return Outcome(versions, repairs, best, stopped)


def verdict(kept: Checked) -> str:
    """'pass', 'fail' or 'incomplete' (checks skipped, none failed) for the kept version."""
    rows = check_rows(kept.to_dict())
    if kept.failed_checks or any(r.result in ("fail", "error") for r in rows):
        return "fail"  # unfixable failures count here, though no repair was asked for them
    return "incomplete" if any(r.result == "skipped" for r in rows) else "pass"


def verification_report(outcome: Outcome, limits: Limits) -> Verification:
    """The report's verification part: kept checks with their round, history, repairs."""
    kept = outcome.kept.to_dict()
    return Verification(
        verdict=verdict(outcome.kept),
        kept_round=outcome.best,
        checks=check_rows(kept),
        rounds=[
            VerifiedRound(i, len(v.failed_checks), check_rows(v.to_dict()))
            for i, v in enumerate(outcome.versions)
        ],
        repairs=list(outcome.repairs),
        repair_token_budget=limits.token_budget,
        stopped=outcome.stopped,
        failures=list(outcome.kept.failures),
        detail=kept,
    )


def notes(outcome: Outcome) -> list[str]:
    """Plain sentences for the report about what the loop did and what still fails."""
    lines = []
    last = len(outcome.versions) - 1
    if outcome.best != last:
        lines.append(
            f"A repair made things worse; kept the best version (round {outcome.best}, "
            f"{len(outcome.kept.failed_checks)} failing) instead of round {last}."
        )
    failing = len(outcome.kept.failed_checks)
    if failing:
        lines.append(
            f"{failing} check(s) still fail after {len(outcome.repairs)} repair round(s) "
            f"(stopped: {outcome.stopped}); the app is committed, deployed and reported anyway."
        )
    return lines
