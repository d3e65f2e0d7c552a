"""A later round re-runs the earlier rounds' checks, so a revision cannot silently lose them.

The receiver puts the earlier rounds' checks in the job (``Job.previous_checks``). Those a browser
can run (JavaScript) are guarded: they are run on the app as checked out, before this round
writes anything (``passed_before``), and again with this round's checks on every verified
version. :class:`Guarded` wraps a version's result so that the repair loop sees

- an earlier check that passed before and fails now as a failure, its line saying that it passed
  before and should be kept unless the new brief changes it;
- an earlier check that did not pass before as no failure at all: the earlier round already
  missed it, and the new brief may well have changed what it tests.

Sentences for a judge cannot be run; they are listed in the round-2 prompt and reported as
unguarded. Pure functions and a wrapper: the generate step does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from action.check_report import EarlierChecks
from action.checks import classify, js_failure, js_sources, normalise
from action.job import Check, Job
from action.repair import Checked

KEEP_IT = "this passed before: keep it unless the new brief changes it"


def earlier_only(job: Job) -> list[Check]:
    """The earlier rounds' checks this round does not repeat, each once, in their order."""
    current = {_key(c) for c in job.checks}
    seen: dict[str, Check] = {}
    for check in job.previous_checks:
        key = _key(check)
        if key not in current:
            seen.setdefault(key, check)
    return list(seen.values())


def _key(check: Check) -> str:
    # `js: x`, `{"js": "x"}` and a bare `x` are one check: compare what would be run or read.
    c = classify(check)
    return f"{c.kind}:{c.source}"


def guarded_sources(job: Job) -> list[str]:
    """The JavaScript sources of the earlier checks this round must not lose."""
    return js_sources(normalise(earlier_only(job)))


def baseline_job(job: Job) -> Job:
    """The job that checks the app as checked out: the earlier JavaScript checks only."""
    guards = [c for c in earlier_only(job) if classify(c).kind == "js"]
    return replace(job, checks=guards, attachments=[], previous_checks=[])


def combined_job(job: Job) -> Job:
    """This round's checks followed by the guarded earlier ones, run together in one page load."""
    guards = [c for c in earlier_only(job) if classify(c).kind == "js"]
    return replace(job, checks=[*job.checks, *guards])


def passed(checked: Checked, sources: list[str]) -> frozenset[str]:
    """Which of ``sources`` passed in a verification result."""
    rows = checked.to_dict().get("js", [])
    return frozenset(r["check"] for r in rows if r.get("status") == "pass") & frozenset(sources)


@dataclass(frozen=True)
class Guarded:
    """A verification result with the earlier checks judged against ``passed_before``."""

    inner: Checked
    sources: frozenset[str]  # guarded earlier JavaScript checks
    passed_before: frozenset[str]

    def _rows(self) -> list[dict[str, Any]]:
        return [r for r in self.inner.to_dict().get("js", []) if r.get("check") in self.sources]

    @property
    def lost(self) -> list[str]:
        """Earlier checks that passed before and fail or throw now."""
        return [
            r["check"]
            for r in self._rows()
            if r["check"] in self.passed_before and r.get("status") in ("fail", "error")
        ]

    @property
    def failed_checks(self) -> list[str]:
        excused = self.sources - set(self.lost)
        return [c for c in self.inner.failed_checks if c not in excused]

    @property
    def failures(self) -> list[str]:
        reworded, dropped = {}, set()
        for r in self._rows():
            line = js_failure(r["check"], str(r.get("status")), str(r.get("detail", "")))
            if not line:
                continue
            if r["check"] in self.passed_before:
                reworded[line] = f"Earlier round's check ({KEEP_IT}): {line}"
            else:
                dropped.add(line)
        lines = [reworded.get(x, x) for x in self.inner.failures if x not in dropped]
        if all(x.startswith("Page error: ") for x in lines):
            return []  # page errors travel with a check failure, never alone
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The inner form with the earlier checks moved out of ``js`` into ``earlier``."""
        doc = dict(self.inner.to_dict())
        rows = doc.get("js", [])
        doc["js"] = [r for r in rows if r.get("check") not in self.sources]
        doc["earlier"] = [
            {**r, "passed_before": r["check"] in self.passed_before}
            for r in rows
            if r.get("check") in self.sources
        ]
        return doc


def summary(job: Job, kept: Checked | None, passed_before: frozenset[str]) -> EarlierChecks:
    """The report's account of the earlier checks, from the kept version (None: not verified)."""
    after = {}
    if kept is not None:
        after = {r["check"]: r.get("status") for r in kept.to_dict().get("earlier", [])}
    report = EarlierChecks()
    for check in normalise(earlier_only(job)):
        status = after.get(check.source) if check.kind == "js" else None
        if check.source not in passed_before or status is None:
            report.unguarded.append(check.source)
        elif status == "pass":
            report.kept.append(check.source)
        elif status in ("fail", "error"):
            report.lost.append(check.source)
        else:
            report.unguarded.append(check.source)  # skipped now: neither kept nor lost
    return report
