"""Throttling of wrong secrets: a small in-memory token bucket per client address.

Each client address holds ``BURST`` tokens that refill at ``BURST`` per ``WINDOW`` seconds; a
request whose secret does not match takes one. A client whose bucket is empty is answered ``429``
with ``Retry-After`` before its body is read (a header parse, not a 25 MB read). Requests with the
right secret take nothing: the evaluator is slowed only by wrong secrets sent from its address.

The client address is the TCP peer, or, when the receiver is told it sits behind ``trust_proxy``
proxies, the address the outermost trusted proxy saw (counted from the right of
``X-Forwarded-For``, the end a client cannot forge). The table is bounded: past ``MAX_CLIENTS``
addresses the oldest entry is dropped, so a flood of addresses costs memory, never unbounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

BURST = 5  # wrong secrets a client may send at once
WINDOW = 60.0  # seconds for an empty bucket to fill again
MAX_CLIENTS = 10_000


def client_address(peer: str | None, headers: Mapping[str, str], trust_proxy: int) -> str:
    """The address to throttle: the peer, or the one the outermost of ``trust_proxy`` proxies saw.

    With ``trust_proxy`` = n, the n-th address from the right of ``X-Forwarded-For`` is the one
    the first trusted proxy received the request from; anything left of it is client-supplied.
    """
    if trust_proxy > 0:
        forwarded = [a.strip() for a in headers.get("x-forwarded-for", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-min(trust_proxy, len(forwarded))]
    return peer or "unknown"


class Throttle:
    """Token buckets keyed by client address; thread-safe (the request path runs in threads)."""

    def __init__(
        self,
        *,
        burst: int = BURST,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        self._burst, self._rate = float(burst), burst / window
        self._clock, self._max = clock, max_clients
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def _tokens(self, client: str, now: float) -> float:
        tokens, at = self._buckets.get(client, (self._burst, now))
        return min(self._burst, tokens + (now - at) * self._rate)

    def retry_after(self, client: str) -> int | None:
        """Seconds this client must wait before its next request, or None if it may send now."""
        with self._lock:
            if client not in self._buckets:
                return None
            tokens = self._tokens(client, self._clock())
        return None if tokens >= 1 else max(1, math.ceil((1 - tokens) / self._rate))

    def wrong_secret(self, client: str) -> None:
        """Take one token from this client's bucket."""
        with self._lock:
            now = self._clock()
            tokens = self._tokens(client, now)
            self._buckets.pop(client, None)
            self._buckets[client] = (max(0.0, tokens - 1), now)  # newest last
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
