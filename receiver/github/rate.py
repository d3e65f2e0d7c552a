"""How long to wait before talking to GitHub again: rate-limit answers, 5xx backoff, write spacing.

Pure policy plus one small throttle; the clock and sleep are injected so tests never wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

SECONDARY_FLOOR = 60.0  # GitHub: without retry-after, wait at least a minute
SECONDARY_CAP = 900.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0


def _lower(headers: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def rate_limit_delay(
    status: int, headers: Mapping[str, Any] | None, message: str, now: float, attempt: int
) -> float | None:
    """Seconds to wait after a rate-limit answer, or None when the answer is not one."""
    if status not in (403, 429):
        return None
    h = _lower(headers)
    if "retry-after" in h:
        try:
            return max(0.0, float(h["retry-after"]))
        except ValueError:
            pass
    if h.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in h:
        return reset_delay(h["x-ratelimit-reset"], now)
    if status == 429 or "rate limit" in message.lower():
        return min(SECONDARY_FLOOR * 2**attempt, SECONDARY_CAP)
    return None  # a plain 403 is a permission problem, not a reason to wait


def reset_delay(reset: str | int | float, now: float) -> float:
    """Seconds until an ``x-ratelimit-reset`` epoch time, plus a second of slack."""
    try:
        return max(0.0, float(reset) - now) + 1.0
    except (TypeError, ValueError):
        return SECONDARY_FLOOR


def backoff(attempt: int) -> float:
    """Exponential backoff for 5xx answers and dropped connections: 1, 2, 4, … ≤ 30 s."""
    return min(BACKOFF_BASE * 2**attempt, BACKOFF_CAP)


class WriteThrottle:
    """Keeps at least ``interval`` seconds between writes across threads (GitHub's advice)."""

    def __init__(
        self, interval: float, sleep: Callable[[float], None], clock: Callable[[], float]
    ) -> None:
        self._interval, self._sleep, self._clock = interval, sleep, clock
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next write may go out, and reserve that slot."""
        if self._interval <= 0:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)
