"""Tell the evaluator where the app lives, once Pages serves the commit, with bounded retries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from action.errors import NotifyError

# The evaluator expects the notification within 10 minutes of its request.
DEADLINE_SECONDS = 600.0
PAGE_POLL_SECONDS = 5.0
_MAX_REASON = 300


@dataclass(frozen=True)
class NotifyResult:
    status: int
    attempts: int
    delays: list[float] = field(default_factory=list)


def notification_body(
    *,
    email: str,
    task: str,
    round_: int,
    nonce: str,
    repo_url: str,
    commit_sha: str,
    pages_url: str,
) -> dict[str, Any]:
    """The JSON document the evaluator expects."""
    return {
        "email": email,
        "task": task,
        "round": round_,
        "nonce": nonce,
        "repo_url": repo_url,
        "commit_sha": commit_sha,
        "pages_url": pages_url,
    }


def wait_for_page(
    http: httpx.Client,
    page_url: str,
    expected_index: bytes,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
    *,
    clock: Callable[[], float] = time.time,
    poll: float = PAGE_POLL_SECONDS,
) -> bool:
    """Poll until the page serves exactly ``expected_index``; False when the deadline passes."""
    # A query string and no-cache ask the CDN for a fresh copy; Pages caches for 600 s.
    url = page_url if page_url.endswith("/") else page_url + "/"
    token = f"{int(clock())}"
    while True:
        try:
            response = http.get(
                url,
                params={"llm-deploy": token},
                headers={"Cache-Control": "no-cache"},
                timeout=min(30.0, max(1.0, deadline - clock())),
                follow_redirects=True,
            )
            if response.status_code == 200 and _same(response.content, expected_index):
                return True
        except httpx.HTTPError:
            pass  # a fresh site is unreachable or 404s for a while
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        sleep(min(poll, remaining))


def _same(served: bytes, committed: bytes) -> bool:
    # Line endings may be normalised by git attributes; content is what matters.
    return served == committed or served.replace(b"\r\n", b"\n") == committed.replace(
        b"\r\n", b"\n"
    )


def notify(
    http: httpx.Client,
    url: str,
    body: dict[str, Any],
    *,
    deadline: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 30.0,
) -> NotifyResult:
    """POST the body until a 2xx, retrying errors, 5xx and 429 after 1, 2, 4, 8 … s.

    The first attempt is always made; no retry starts after ``deadline``. A 4xx other than 429
    is final. Errors never include the URL (it identifies the evaluator's private endpoint).
    """
    delays: list[float] = []
    attempts = 0
    delay = 1.0
    last = ""
    while True:
        attempts += 1
        try:
            response = http.post(
                url,
                content=json.dumps(body).encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=min(timeout, max(1.0, deadline - clock())),
            )
        except httpx.HTTPError as exc:
            last = _scrub(f"{type(exc).__name__}: {exc}", url) or type(exc).__name__
        else:
            if 200 <= response.status_code < 300:
                return NotifyResult(response.status_code, attempts, delays)
            reason = _reason(response, url)
            if 400 <= response.status_code < 500 and response.status_code != 429:
                raise NotifyError(
                    f"The evaluator refused the notification with HTTP {response.status_code}: "
                    f"{reason}"
                )
            last = f"HTTP {response.status_code}: {reason}"
        if clock() + delay > deadline:
            raise NotifyError(
                f"The evaluator did not accept the notification before the deadline "
                f"({attempts} attempts; last answer {last})."
            )
        delays.append(delay)
        sleep(delay)
        delay *= 2


def _reason(response: httpx.Response, url: str) -> str:
    """The evaluator's own words: a JSON reason/error/detail/message field, or the text."""
    text = response.text
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("reason", "error", "detail", "message"):
            if data.get(key):
                text = data[key] if isinstance(data[key], str) else json.dumps(data[key])
                break
    return _scrub(text.strip(), url)[:_MAX_REASON] or response.reason_phrase


def _scrub(text: str, url: str) -> str:
    return text.replace(url, "<evaluation_url>") if url else text
