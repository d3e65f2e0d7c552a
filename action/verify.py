"""Check a built app the way the evaluator will: static reads of the files plus a browser."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from action.browser import Browser, BrowserResult, JsResult, run_browser_checks
from action.checks import CheckResult, js_sources, normalise
from action.payload import Job
from action.static_checks import run_static_checks

# A concrete `?name=value` a check spells out (placeholders such as `...` are not concrete).
_QUERY = re.compile(r"\?((?:[A-Za-z_][\w-]*=[^\s\"'`&)]+&?)+)")
_MAX_CONTEXT_LINES = 5


def page_query(job: Job) -> str:
    """The query string a check needs the page loaded with, or ""."""
    for source in js_sources(normalise(job.checks)):
        match = _QUERY.search(source)
        if match and "..." not in match.group(1):
            return match.group(1).rstrip("&")
    return ""


@dataclass
class VerifyReport:
    """Static and browser results for one version of an app."""

    static: list[CheckResult] = field(default_factory=list)
    js: list[JsResult] = field(default_factory=list)
    text_checks: list[str] = field(default_factory=list)
    browser: BrowserResult | None = None
    elapsed_s: float = 0.0

    @property
    def skipped(self) -> str:
        """Why the browser checks did not run, or ""."""
        return self.browser.skipped if self.browser else ""

    @property
    def passed(self) -> bool:
        """Every static and JavaScript check passed (skipped checks do not count as passed)."""
        return all(r.passed for r in self.static) and all(r.status == "pass" for r in self.js)

    @property
    def failures(self) -> list[str]:
        """Concrete failure lines for a repair prompt; empty when nothing a model can fix failed."""
        lines = [f"Static check failed: {r.name} — {r.detail}" for r in self.static if not r.passed]
        for r in self.js:
            if r.status == "fail":
                lines.append(f"JavaScript check `{r.source}` was falsy: it {r.detail}.")
            elif r.status == "error":
                lines.append(f"JavaScript check `{r.source}` threw: {r.detail}")
        if lines and self.browser:
            # Page errors explain most check failures, so they travel with them.
            context = self.browser.console_errors + self.browser.failed_requests
            lines += [f"Page error: {c}" for c in context[:_MAX_CONTEXT_LINES]]
        return lines

    def summary_rows(self) -> list[tuple[str, str, str, str]]:
        """(kind, check, result, detail) rows for the step summary table."""
        rows = [("static", r.name, "pass" if r.passed else "fail", r.detail) for r in self.static]
        rows += [("js", r.source, r.status, r.detail) for r in self.js]
        rows += [("text", t, "not run", "for an LLM judge") for t in self.text_checks]
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for report.json."""
        b = self.browser
        return {
            "passed": self.passed,
            "skipped": self.skipped,
            "elapsed_s": self.elapsed_s,
            "static": [
                {"name": r.name, "passed": r.passed, "detail": r.detail} for r in self.static
            ],
            "js": [
                {"check": r.source, "status": r.status, "detail": r.detail, "ms": r.elapsed_ms}
                for r in self.js
            ],
            "text": list(self.text_checks),
            "console_errors": list(b.console_errors) if b else [],
            "failed_requests": list(b.failed_requests) if b else [],
            "offline_requests": list(b.offline_requests) if b else [],
            "screenshot": str(b.screenshot) if b and b.screenshot else None,
        }


def verify(
    root: Path,
    job: Job,
    *,
    chromium: str | None = None,
    screenshot: Path | None = None,
    browser: Browser | None = None,
    query: str | None = None,
    settle_ms: int = 3000,
) -> VerifyReport:
    """Run the static checks, and the browser checks when the job has any JavaScript checks."""
    started = time.monotonic()
    checks = normalise(job.checks)
    static = run_static_checks(root, job.brief, checks, job.attachments)
    js = js_sources(checks)
    result: BrowserResult | None = None
    if js:
        result = run_browser_checks(
            root,
            js,
            chromium=chromium,
            browser=browser,
            query=page_query(job) if query is None else query,
            settle_ms=settle_ms,
            screenshot=screenshot,
        )
    return VerifyReport(
        static=static,
        js=result.checks if result else [],
        text_checks=[c.source for c in checks if c.kind == "text"],
        browser=result,
        elapsed_s=round(time.monotonic() - started, 3),
    )
