"""The Action's report as typed data: what a run did, serialised once to the documented JSON.

``RunReport.to_json`` is the only place that names the report's JSON keys and
``RunReport.from_json`` the only place that reads them back (for the step summary after
redaction, and for the verify step, which adds ``live_checks`` to a saved report). The shape is
documented in ``docs/interfaces.md``. To add a field: an attribute here, one line in ``to_json``,
one in ``from_json``, one in the doc; ``tests/test_report.py`` round-trips a full report, so a
field forgotten in either direction fails there.

Nothing secret belongs in a report (see ``action.report.redact``).
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
class LlmUsage:
    """What the model calls cost: the models that answered, tokens, estimated dollars."""

    models: list[str]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    calls: int


@dataclass
class RunReport:
    """The generate step's report (``report.json``, the ``report`` output, the step summary)."""

    task: str
    round: int
    generator: str = "llm"  # or "offline"
    model: str = ""  # the model asked first
    offline_reason: str = ""
    files_written: list[str] = field(default_factory=list)
    files_refused: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)  # committed as given or derived
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    usage: LlmUsage | None = None
    verification: Verification | None = None
    commit_sha: str = ""
    page_url: str = ""
    pages_by: list[str] = field(default_factory=list)  # app workflows that own the site
    error: str = ""
    live_checks: LiveChecks | None = None

    def to_json(self) -> Json:
        """The documented JSON shape; empty optional parts are left out, sections are flat."""
        doc: Json = {
            "task": self.task,
            "round": self.round,
            "generator": self.generator,
            "model": self.model,
            "files_written": list(self.files_written),
            "files_refused": [[p, r] for p, r in self.files_refused],
            "notes": list(self.notes),
            "attachments": list(self.attachments),
            "timings": dict(self.timings),
            "commit_sha": self.commit_sha,
            "page_url": self.page_url,
        }
        if self.offline_reason:
            doc["offline_reason"] = self.offline_reason
        if self.usage is not None:
            u = self.usage
            doc["models"] = list(u.models)
            doc["tokens"] = {"prompt": u.prompt_tokens, "completion": u.completion_tokens}
            doc["cost_usd"] = round(u.cost_usd, 6)
            doc["llm_calls"] = u.calls
        if self.verification is not None:
            doc.update(self.verification.to_json())
        if self.pages_by:
            doc["pages_by"] = list(self.pages_by)
        if self.error:
            doc["error"] = self.error
        if self.live_checks is not None:
            doc["live_checks"] = self.live_checks.to_json()
        return doc

    @classmethod
    def from_json(cls, doc: Json) -> RunReport:
        """Read a report back; absent keys take their defaults, so older reports load too."""
        tokens = doc.get("tokens") or {}
        usage = None
        if "tokens" in doc or "models" in doc:
            usage = LlmUsage(
                models=list(doc.get("models", [])),
                prompt_tokens=int(tokens.get("prompt", 0)),
                completion_tokens=int(tokens.get("completion", 0)),
                cost_usd=float(doc.get("cost_usd") or 0.0),
                calls=int(doc.get("llm_calls", 0)),
            )
        verified = any(k in doc for k in ("verdict", "verification_rounds", "checks"))
        live = doc.get("live_checks")
        return cls(
            task=str(doc.get("task", "")),
            round=int(doc.get("round", 1)),
            generator=str(doc.get("generator", "llm")),
            model=str(doc.get("model", "")),
            offline_reason=str(doc.get("offline_reason", "")),
            files_written=list(doc.get("files_written", [])),
            files_refused=[(str(p), str(r)) for p, r in doc.get("files_refused", [])],
            notes=list(doc.get("notes", [])),
            attachments=list(doc.get("attachments", [])),
            timings={str(k): float(v) for k, v in (doc.get("timings") or {}).items()},
            usage=usage,
            verification=Verification.from_json(doc) if verified else None,
            commit_sha=str(doc.get("commit_sha", "")),
            page_url=str(doc.get("page_url", "")),
            pages_by=list(doc.get("pages_by", [])),
            error=str(doc.get("error", "")),
            live_checks=LiveChecks.from_json(live) if isinstance(live, dict) else None,
        )


@dataclass
class NotifyReport:
    """The notify step's account: did Pages serve the commit, what the evaluator answered."""

    task: str = ""
    round: int = 0
    commit_sha: str = ""
    page_url: str = ""
    page_served: bool | None = None  # None: the step did not wait for the page
    page_wait_s: float = 0.0
    notified: str = ""  # "HTTP 200 after 2 attempt(s)" or "skipped: …"
    notify_delays: list[float] = field(default_factory=list)
    error: str = ""
