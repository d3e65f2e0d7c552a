"""Group commit: one writer thread makes queued items durable in batches that share their fsyncs.

Requests arriving together share one write and its fsyncs: the writer takes everything queued
when it wakes (never waiting on a timer, so a lone request is not delayed), writes it with
``write_batch`` and hands each caller its result. A caller on the event loop gets an asyncio
future, resolved with one ``call_soon_threadsafe`` per batch, so the loop neither blocks nor
hops to a thread pool; any other thread waits on a plain future.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
_Waiter = Future[Any] | asyncio.Future[Any]

MAX_BATCH = 256  # bounds one transaction and the memory one batch holds


class GroupCommit(Generic[T, R]):
    """Hands items from any thread to ``write_batch`` in batches; each caller gets its result."""

    def __init__(self, write_batch: Callable[[list[T]], list[R]], name: str) -> None:
        self._write_batch = write_batch
        self._queue: queue.SimpleQueue[tuple[T, _Waiter] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> R:
        """Write ``item`` with whatever else is queued; return once its batch is durable."""
        done: Future[R] = Future()
        self._queue.put((item, done))
        return done.result()

    def submit_async(self, item: T) -> asyncio.Future[R]:
        """Like ``submit``, for the running event loop: a future to await."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put((item, done))
        return done

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # close() came after these: write them, then stop
                    self._queue.put(None)
                    break
                batch.append(more)
            try:
                results: list[Any] = self._write_batch([item for item, _ in batch])
                failed = False
            except BaseException as exc:  # every caller of a failed batch sees the failure
                results, failed = [exc] * len(batch), True
            _settle([(w, r) for (_, w), r in zip(batch, results, strict=True)], failed)


def _settle(pairs: list[tuple[_Waiter, Any]], failed: bool) -> None:
    by_loop: dict[asyncio.AbstractEventLoop | None, list[tuple[_Waiter, Any]]] = {}
    for pair in pairs:  # plain futures at once; each event loop's in one callback
        loop = pair[0].get_loop() if isinstance(pair[0], asyncio.Future) else None
        by_loop.setdefault(loop, []).append(pair)
    for loop, waiting in by_loop.items():
        if loop is None:
            _resolve(waiting, failed)
        else:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to answer
                loop.call_soon_threadsafe(_resolve, waiting, failed)


def _resolve(pairs: list[tuple[_Waiter, Any]], failed: bool) -> None:
    for waiter, result in pairs:
        if not waiter.done():  # an asyncio caller cancelled (server shutdown): its row is kept
            (waiter.set_exception if failed else waiter.set_result)(result)
