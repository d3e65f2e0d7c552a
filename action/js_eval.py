"""Evaluate JavaScript checks in a loaded page: await promises, bound each check, and poll
falsy or throwing ones until the page has had time to settle."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "error", "skipped"]

_WRAPPER = """async () => {{
  const timer = new Promise((_, reject) =>
    setTimeout(() => reject(new Error("no answer within {timeout} ms")), {timeout}));
  const value = await Promise.race([(async () => (
{expr}
))(), timer]);
  let shown;
  try {{ shown = JSON.stringify(value); }} catch (e) {{ shown = undefined; }}
  return {{ ok: !!value, shown: shown === undefined ? String(value) : shown }};
}}"""


@dataclass
class JsResult:
    """The outcome of one JavaScript check."""

    source: str
    status: Status
    detail: str = ""
    elapsed_ms: int = 0


def first_line(exc: BaseException) -> str:
    """The first line of an exception, without Playwright's framing."""
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    # Drop Playwright's "Page.evaluate: " framing; the page's own message is what helps.
    return re.sub(r"^(?:Error: )?(?:[A-Za-z]+\.[A-Za-z]+: )?", "", line, count=1)


def _evaluate_one(page: Any, expr: str, timeout_ms: int) -> tuple[Status, str]:
    try:
        answer = page.evaluate(_WRAPPER.format(expr=expr, timeout=timeout_ms))
    except Exception as exc:
        return "error", first_line(exc)
    return ("pass" if answer["ok"] else "fail"), f"returned {answer['shown'][:200]}"


def evaluate_all(page: Any, sources: list[str], settle_ms: int, timeout_ms: int) -> list[JsResult]:
    """Evaluate every check; falsy or throwing ones are retried until the settle deadline."""
    results = [JsResult(src, "fail") for src in sources]
    pending = list(range(len(sources)))
    deadline = time.monotonic() + settle_ms / 1000
    while pending:
        pass_started = time.monotonic()
        for i in list(pending):
            t0 = time.monotonic()
            status, detail = _evaluate_one(page, sources[i], timeout_ms)
            results[i] = JsResult(sources[i], status, detail, int((time.monotonic() - t0) * 1000))
            # Syntax errors and hung promises never heal by waiting.
            if status == "pass" or "SyntaxError" in detail or "no answer within" in detail:
                pending.remove(i)
        # Stop only after a whole pass that began at or after the deadline, so a slow check
        # cannot starve the others of a look at the settled page.
        if not pending or pass_started >= deadline:
            break
        page.wait_for_timeout(150)
    return results
