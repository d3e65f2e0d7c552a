"""Group commit for the journal: concurrent writers share one transaction and one fsync.

With ``synchronous=FULL`` every commit fsyncs the WAL. Twenty 1 MB requests arriving together
would pay twenty fsyncs one after the other; here the first writer to find no commit in progress
becomes the leader and writes everything queued so far in one transaction, while the others wait
for its commit (never for a timer, so a lone request is not delayed). WAL checkpoints, which copy
the WAL into the database file and fsync it, run on their own connection and thread, so no
request pays for one.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = False


class GroupCommit(Generic[T, R]):
    """Hands items from many threads to ``write_batch`` in batches; each caller gets its result."""

    def __init__(self, write_batch: Callable[[list[T]], list[R]]) -> None:
        self._write_batch = write_batch
        self._cv = threading.Condition()
        self._queue: list[_Slot[T, R]] = []
        self._busy = False

    def submit(self, item: T) -> R:
        """Write ``item`` with whatever else is queued; return once its batch is committed."""
        slot: _Slot[T, R] = _Slot(item)
        batch: list[_Slot[T, R]] = []
        with self._cv:
            self._queue.append(slot)
            while self._busy and not slot.done:
                self._cv.wait()
            if not slot.done:  # no leader: this thread writes everything queued, itself included
                self._busy = True
                batch, self._queue = self._queue, []
        if batch:
            self._lead(batch)
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]  # set together with done

    def _lead(self, batch: list[_Slot[T, R]]) -> None:
        error: BaseException | None = None
        results: list[R] = []
        try:
            results = self._write_batch([s.item for s in batch])
        except BaseException as exc:  # every writer of a failed batch sees the failure
            error = exc
        with self._cv:
            for i, s in enumerate(batch):
                s.error = error
                s.result = results[i] if error is None else None
                s.done = True
            self._busy = False
            self._cv.notify_all()


class Checkpointer:
    """Runs PASSIVE WAL checkpoints on a thread of its own, after enough bytes or a quiet second."""

    def __init__(
        self, path: str, *, every_bytes: int = 8 * 1024 * 1024, interval: float = 1.0
    ) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA synchronous=FULL")
        self._every = every_bytes
        self._interval = interval
        self._written = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="journal-checkpoint", daemon=True)
        self._thread.start()

    def wrote(self, nbytes: int) -> None:
        """Count bytes committed to the WAL; wake the checkpointer past the threshold."""
        self._written += nbytes
        if self._written >= self._every:
            self._wake.set()

    def close(self) -> None:
        """Stop the thread after one last checkpoint and close its connection."""
        self._stopping = True
        self._wake.set()
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._written = 0
            # PASSIVE never waits for the writer: frames still being written are left for the
            # next round, and an idle database makes this a cheap header read. A failure is
            # retried next round; the WAL only grows meanwhile, nothing is lost.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            if self._stopping:
                return
