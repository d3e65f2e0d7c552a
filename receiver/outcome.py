"""How a round's run ended, one shape for both modes: the ``outcome`` of status and dashboard rows.

A mode knows its run's conclusion and can read the run's report (``report.json``, the Action's
documented JSON); ``round_outcome`` turns the two into the fields a person wants at a glance:
the conclusion, the commit, the page, the checks passed and failed, tokens and cost, and whether
and when the evaluator answered 200. Pure: the wings fetch, this only reads.
"""

from __future__ import annotations

from typing import Any

# A run is over once it has one of these conclusions (GitHub's values; a mode may use fewer).
CONCLUDED = frozenset(
    {
        "success",
        "failure",
        "cancelled",
        "timed_out",
        "skipped",
        "neutral",
        "action_required",
        "stale",
        "startup_failure",
    }
)


def round_outcome(
    conclusion: str | None,
    report: dict[str, Any] | None,
    *,
    started_at: float | None = None,
    ended_at: float | None = None,
    step: str | None = None,
) -> dict[str, Any]:
    """The ``outcome`` of a round: ``conclusion`` None while the run goes on."""
    doc = report or {}
    checks = [c.get("result") for c in doc.get("checks") or [] if isinstance(c, dict)]
    tokens = doc["tokens"] if isinstance(doc.get("tokens"), dict) else None
    told: dict[str, Any] = doc["notify"] if isinstance(doc.get("notify"), dict) else {}
    return {
        "conclusion": conclusion if conclusion in CONCLUDED else None,
        "started_at": started_at,
        "ended_at": ended_at,
        "step": step,
        "commit_sha": str(doc["commit_sha"]) if doc.get("commit_sha") else None,
        "page_url": str(doc["page_url"]) if doc.get("page_url") else None,
        "checks_passed": checks.count("pass") if checks else None,
        "checks_failed": checks.count("fail") + checks.count("error") if checks else None,
        "tokens": int(tokens.get("prompt", 0)) + int(tokens.get("completion", 0))
        if tokens
        else None,
        "cost_usd": _number(doc.get("cost_usd")),
        "evaluator_status": told.get("status") if isinstance(told.get("status"), int) else None,
        "evaluator_accepted_at": _number(told.get("accepted_at")),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def is_final(outcome: dict[str, Any] | None) -> bool:
    """Whether an outcome can be kept for good (its run concluded)."""
    return outcome is not None and outcome.get("conclusion") in CONCLUDED
