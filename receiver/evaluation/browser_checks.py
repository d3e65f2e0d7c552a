"""Every ``js:`` (and bare-expression) check of a round, run in Chromium against the served page.

The page is loaded from the notified ``pages_url`` over HTTP, as the evaluator loads it, with the
query a check spells out (``?url=…``). Offline mode fails every request that leaves 127.0.0.1 at
once (tests, and machines without internet); online mode lets CDNs load, as on the real web.
"""

from __future__ import annotations

from typing import Any

from receiver.evaluation.outcome import Outcome
from receiver.evaluation.ports import Browser, Job, JsResult, page_query

SETTLE_MS = 5000  # how long a falsy check is polled while the page settles


def outcome_of(result: JsResult) -> Outcome:
    """A browser result as a scored check (a skipped check is not scored)."""
    if result.status == "skipped":
        return Outcome("js", result.source, None, result.detail)
    return Outcome(
        "js",
        result.source,
        result.status == "pass",
        "" if result.status == "pass" else f"{result.status}: {result.detail}",
    )


def query_for(request: dict[str, Any], sources: list[str]) -> str:
    """The query string the checks need the page loaded with, as the Action computes it."""
    return page_query(Job(task="", round=1, brief="", checks=list(sources)))


def run_js_checks(
    browser: Browser | None,
    pages_url: str | None,
    sources: list[str],
    *,
    request: dict[str, Any] | None = None,
    offline: bool = False,
    skipped_because: str = "",
) -> list[Outcome]:
    """Score each JavaScript check on the page; unscored (None) without a browser or a page."""
    if not sources:
        return []
    if browser is None or not pages_url:
        reason = skipped_because or ("no browser" if browser is None else "no page to load")
        return [Outcome("js", s, None if browser is None else False, reason) for s in sources]
    query = query_for(request or {}, sources)
    url = pages_url + (("?" + query) if query else "")
    loaded = browser.load(url, sources, offline=offline, settle_ms=SETTLE_MS, load_timeout_ms=20000)
    return [outcome_of(r) for r in loaded.checks]
