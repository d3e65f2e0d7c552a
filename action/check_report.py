"""The checks' part of the report: rows per check, verified rounds, repairs, live-page checks.

Typed data with its JSON form (``to_json``/``from_json``); ``action.run_report`` puts these in the
run's report, ``action.report`` presents them, the repair loop and the verify step fill them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass
class CheckRow:
    """One check's outcome in one verified version: ``result`` is pass, fail, error, skipped…"""

    kind: str  # static, js or text
    check: str
    result: str
    detail: str = ""

    def to_json(self) -> Json:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Json) -> CheckRow:
        return cls(
            str(doc.get("kind", "")),
            str(doc.get("check", "")),
            str(doc.get("result", "")),
            str(doc.get("detail", "")),
        )


def check_rows(verification: Json) -> list[CheckRow]:
    """Rows from a verification report's dict form (``action.verify.VerifyReport.to_dict``)."""
    rows = [
        CheckRow(
            "static",
            str(r.get("name", "")),
            "pass" if r.get("passed") else "fail",
            str(r.get("detail", "")),
        )
        for r in verification.get("static", [])
    ]
    rows += [
        CheckRow("js", str(r.get("check", "")), str(r.get("status", "")), str(r.get("detail", "")))
        for r in verification.get("js", [])
    ]
    rows += [
        CheckRow("text", str(t), "not run", "for an LLM judge")
        for t in verification.get("text", [])
    ]
    return rows


@dataclass
class VerifiedRound:
    """One verified version: round 0 is the first answer, round k the k-th repair."""

    round: int
    failed: int
    checks: list[CheckRow]

    def to_json(self) -> Json:
        return {
            "round": self.round,
            "failed": self.failed,
            "checks": [c.to_json() for c in self.checks],
        }

    @classmethod
    def from_json(cls, doc: Json) -> VerifiedRound:
        return cls(
            int(doc.get("round", 0)),
            int(doc.get("failed", 0)),
            [CheckRow.from_json(c) for c in doc.get("checks", [])],
        )


@dataclass
class Repair:
    """One repair request: the failures sent, the files the answer changed, its tokens."""

    round: int
    failures_sent: list[str]
    files_changed: list[str] = field(default_factory=list)
    tokens: int = 0
    error: str = ""

    def to_json(self) -> Json:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Json) -> Repair:
        return cls(
            int(doc.get("round", 0)),
            list(doc.get("failures_sent", [])),
            list(doc.get("files_changed", [])),
            int(doc.get("tokens", 0)),
            str(doc.get("error", "")),
        )


@dataclass
class Verification:
    """The verify/repair loop's part: the kept version's checks, every round, the repairs."""

    verdict: str  # pass, fail or incomplete (checks skipped, none failed)
    kept_round: int
    checks: list[CheckRow]  # the kept round's
    rounds: list[VerifiedRound]
    repairs: list[Repair] = field(default_factory=list)
    repair_token_budget: int = 0
    stopped: str = ""
    failures: list[str] = field(default_factory=list)  # the kept round's, as sent to a model
    detail: Json = field(default_factory=dict)  # VerifyReport.to_dict() of the kept round

    @property
    def repair_tokens(self) -> int:
        return sum(r.tokens for r in self.repairs)

    def to_json(self) -> Json:
        return {
            "verdict": self.verdict,
            "checks": [{**c.to_json(), "round": self.kept_round} for c in self.checks],
            "kept_round": self.kept_round,
            "verification": {**self.detail, "round": self.kept_round},
            "verification_rounds": [r.to_json() for r in self.rounds],
            "repairs": [r.to_json() for r in self.repairs],
            "repair_rounds": len(self.repairs),
            "repair_tokens": self.repair_tokens,
            "repair_token_budget": self.repair_token_budget,
            "repair_stopped": self.stopped,
            "failures": list(self.failures),
        }

    @classmethod
    def from_json(cls, doc: Json) -> Verification:
        detail = dict(doc.get("verification") or {})
        detail.pop("round", None)
        kept = int(doc.get("kept_round", 0))
        checks = [CheckRow.from_json(c) for c in doc.get("checks", [])]
        rounds = [VerifiedRound.from_json(r) for r in doc.get("verification_rounds", [])]
        if checks and not rounds:  # a report written by hand: its checks are the only round
            rounds = [VerifiedRound(kept, sum(c.result == "fail" for c in checks), checks)]
        return cls(
            verdict=str(doc.get("verdict", "")),
            kept_round=kept,
            checks=checks,
            rounds=rounds,
            repairs=[Repair.from_json(r) for r in doc.get("repairs", [])],
            repair_token_budget=int(doc.get("repair_token_budget", 0)),
            stopped=str(doc.get("repair_stopped", "")),
            failures=list(doc.get("failures", [])),
            detail=detail,
        )


@dataclass
class LiveChecks:
    """The JavaScript checks run against the deployed page by the verify step."""

    url: str
    verdict: str
    checks: list[CheckRow]
    skipped: str = ""
    console_errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_json(self) -> Json:
        return {
            "url": self.url,
            "verdict": self.verdict,
            "skipped": self.skipped,
            "checks": [c.to_json() for c in self.checks],
            "console_errors": list(self.console_errors),
            "elapsed_s": self.elapsed_s,
        }

    @classmethod
    def from_json(cls, doc: Json) -> LiveChecks:
        return cls(
            url=str(doc.get("url", "")),
            verdict=str(doc.get("verdict", "")),
            checks=[CheckRow.from_json(c) for c in doc.get("checks", [])],
            skipped=str(doc.get("skipped", "")),
            console_errors=list(doc.get("console_errors", [])),
            elapsed_s=float(doc.get("elapsed_s", 0.0)),
        )


@dataclass
class EarlierChecks:
    """Earlier rounds' checks re-run in a later round, judged against the app before it.

    ``kept`` passed before this round's revision and pass in the kept version; ``lost`` passed
    before and fail now (a regression); ``unguarded`` did not pass before (they failed, threw or
    could not run, or are sentences for a judge), so nothing is held against this round for them.
    """

    kept: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    unguarded: list[str] = field(default_factory=list)

    def to_json(self) -> Json:
        return {"kept": list(self.kept), "lost": list(self.lost), "unguarded": list(self.unguarded)}

    @classmethod
    def from_json(cls, doc: Json) -> EarlierChecks:
        return cls(
            [str(c) for c in doc.get("kept", [])],
            [str(c) for c in doc.get("lost", [])],
            [str(c) for c in doc.get("unguarded", [])],
        )
