"""Check a built app the way the evaluator will: static reads of the files plus a browser.

``verify`` checks one version of a working copy; ``Session`` checks successive versions (repair
rounds) with one browser, launched only when the job has JavaScript checks, and numbers a
screenshot per round; ``verify_url`` runs the JavaScript checks against a deployed page.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from action.browser import (
    Browser,
    BrowserResult,
    BrowserUnavailable,
    JsResult,
    launch,
    run_browser_checks,
    skipped_result,
)
from action.checks import CheckResult, js_failure, js_sources, normalise
from action.job import Job
from action.js_eval import first_line
from action.static_checks import run_static_checks

# A concrete `?name=value` a check spells out (placeholders such as `...` are not concrete).
_QUERY = re.compile(r"\?((?:[A-Za-z_][\w-]*=[^\s\"'`&)]+&?)+)")
_MAX_CONTEXT_LINES = 5
SETTLE_MS = 3000  # how long a falsy check is polled while the page settles


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
    def failed_checks(self) -> list[str]:
        """Names of the checks that failed or threw (what a repair is judged by)."""
        names = [r.name for r in self.static if not r.passed and r.fixable]
        return names + [r.source for r in self.js if r.status in ("fail", "error")]

    @property
    def failures(self) -> list[str]:
        """Concrete failure lines for a repair prompt; empty when nothing a model can fix failed."""
        lines = [
            f"Static check failed: {r.name} — {r.detail}"
            for r in self.static
            if not r.passed and r.fixable
        ]
        lines += [line for r in self.js if (line := js_failure(r.source, r.status, r.detail))]
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
                {"name": r.name, "passed": r.passed, "detail": r.detail, "fixable": r.fixable}
                for r in self.static
            ],
            "js": [
                {"check": r.source, "status": r.status, "detail": r.detail, "ms": r.elapsed_ms}
                for r in self.js
            ],
            "text": list(self.text_checks),
            "console_errors": list(b.console_errors) if b else [],
            "failed_requests": list(b.failed_requests) if b else [],
            "offline_requests": list(b.offline_requests) if b else [],
            # Every request the sealed page tried beyond its own origin (never delivered).
            "blocked_requests": list(b.blocked_requests) if b else [],
            "sandbox_note": b.sandbox_note if b else "",
            # Only the file name: the screenshot travels next to report.json in the artifact.
            "screenshot": b.screenshot.name if b and b.screenshot else None,
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
    unavailable: str = "",
    unwritable: tuple[str, ...] = (),
) -> VerifyReport:
    """Run the static checks, and the browser checks when the job has any JavaScript checks.

    ``unavailable`` (why no browser can run) skips the JavaScript checks without a launch.
    """
    started = time.monotonic()
    checks = normalise(job.checks)
    static = run_static_checks(root, job.brief, checks, job.attachments, unwritable)
    js = js_sources(checks)
    result: BrowserResult | None = None
    if js and unavailable:
        result = skipped_result(js, unavailable)
    elif js:
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


def verify_url(
    url: str,
    job: Job,
    *,
    chromium: str | None = None,
    browser: Browser | None = None,
    screenshot: Path | None = None,
    settle_ms: int = 3000,
) -> VerifyReport:
    """Run the job's JavaScript checks against a live page (static checks need the files)."""
    started = time.monotonic()
    checks = normalise(job.checks)
    query = page_query(job)
    if query and "?" not in url:
        url = f"{url}?{query}"
    js = js_sources(checks)
    result = (
        run_browser_checks(
            None,
            js,
            chromium=chromium,
            browser=browser,
            url=url,
            settle_ms=settle_ms,
            screenshot=screenshot,
        )
        if js
        else None
    )
    return VerifyReport(
        js=result.checks if result else [],
        text_checks=[c.source for c in checks if c.kind == "text"],
        browser=result,
        elapsed_s=round(time.monotonic() - started, 3),
    )


class Session:
    """Verifies successive versions of one app with one browser, launched on first need."""

    def __init__(
        self,
        *,
        chromium: str | None = None,
        artifacts: Path | None = None,
        settle_ms: int | None = None,
        unwritable: tuple[str, ...] = (),
    ) -> None:
        self.chromium = chromium
        self.unwritable = unwritable
        self.artifacts = artifacts
        self.settle_ms = SETTLE_MS if settle_ms is None else settle_ms
        self.calls = 0
        self._browser: Browser | None = None
        self._unavailable = ""

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            self._browser.__exit__(None, None, None)
            self._browser = None

    def _open(self) -> Browser | None:
        if self._browser is None and not self._unavailable:
            try:
                self._browser = launch(self.chromium)
            except BrowserUnavailable as exc:
                self._unavailable = str(exc)
        return self._browser

    def baseline(self, root: Path, job: Job) -> VerifyReport:
        """Verify the app as it was before this run wrote anything: no screenshot, not counted."""
        calls, artifacts = self.calls, self.artifacts
        self.artifacts = None
        try:
            return self(root, job)
        finally:
            self.calls, self.artifacts = calls, artifacts

    def __call__(self, root: Path, job: Job) -> VerifyReport:
        """Verify the app at `root` now; the n-th call's screenshot is screenshot-round-<n>.png."""
        shot = self.artifacts / f"screenshot-round-{self.calls}.png" if self.artifacts else None
        self.calls += 1
        needs_browser = bool(js_sources(normalise(job.checks)))
        browser = self._open() if needs_browser else None
        try:
            return verify(
                root,
                job,
                browser=browser,
                screenshot=shot,
                settle_ms=self.settle_ms,
                unavailable=self._unavailable,
                unwritable=self.unwritable,
            )
        except Exception as exc:  # a browser that dies mid-run must not stop the commit
            self.__exit__(None, None, None)
            self._unavailable = f"the browser failed: {first_line(exc)}"
            return verify(root, job, unavailable=self._unavailable, unwritable=self.unwritable)
