"""The durable journal: every request before its 200, every worker step after it.

A request is kept in a body log beside the SQLite file (WAL, ``synchronous=FULL``): its fields
as one JSON line without the secret, then its attachments' data URIs as they arrived
(``stored_body``); its row names the bytes by offset and length. One writer thread
(``receiver.group_commit``) takes the requests queued, appends the new bodies, fdatasyncs the log,
then commits their rows (fsync'd too): a row exists only once its bytes are on disk, and bytes a
crash leaves past the last row are written over by the next batch. A repeat of a known (task,
round, nonce) writes nothing. Copying a 1 MB body into SQLite pages, its WAL and a checkpoint
cost more than the rest of the request, and so did writing a batch of them through the page cache:
batches are copied into an aligned buffer and written with direct I/O (decision 54).

Rows and bodies hold the request minus its secret (email and evaluation URL included, because
the payload needs them): the files live only on the receiver's own disk and never reach a repo,
a log or the status endpoint. Rows of older versions (the body JSON in the row, attachments in
their own table) are still read."""

from __future__ import annotations

import errno
import json
import mmap
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receiver.forge import Repo
from receiver.group_commit import GroupCommit
from receiver.private import private_dir, private_file
from receiver.request import DeployRequest

# queued → working → dispatching → dispatched, or failed / dispatch-uncertain.
FINAL_STATES = frozenset({"dispatched", "failed", "dispatch-uncertain"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    task TEXT NOT NULL,
    round INTEGER NOT NULL,
    nonce TEXT NOT NULL,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    dispatch_id TEXT NOT NULL,
    repo TEXT, repo_url TEXT, pages_url TEXT, run_url TEXT, error TEXT,
    body TEXT NOT NULL,
    UNIQUE (task, round, nonce)
);
CREATE TABLE IF NOT EXISTS steps (
    request_id INTEGER NOT NULL REFERENCES requests(id),
    step TEXT NOT NULL,
    at REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS steps_request ON steps(request_id);
CREATE TABLE IF NOT EXISTS outcomes (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id),
    outcome TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS repos (
    task TEXT NOT NULL,
    full_name TEXT NOT NULL,
    repo TEXT NOT NULL,
    facts TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (task, full_name)
);
CREATE TABLE IF NOT EXISTS repo_keys (full_name TEXT PRIMARY KEY, payload_key TEXT NOT NULL);
"""
_BODY_COLUMNS = ("body_offset", "body_length")  # added to older files by ALTER TABLE

_LOG_GROWTH = 32 * 1024 * 1024  # bytes allocated ahead in the body log
_ALIGN = max(4096, mmap.PAGESIZE)  # where direct writes start and end, and their buffer sits
_STAGE = 4 * 1024 * 1024  # the aligned buffer a batch is copied through (a multiple of _ALIGN)
_SLICE = 64 * 1024  # characters encoded at a time: small blocks are reused, 1 MB ones page-fault
_FIELDS = frozenset({"repo", "repo_url", "pages_url", "run_url", "error"})


@dataclass(frozen=True)
class Entry:
    """One journaled request, secret-free."""

    id: int
    task: str
    round: int
    nonce: str
    received_at: float
    state: str
    dispatch_id: str
    repo: str | None
    run_url: str | None
    error: str | None
    body: dict[str, Any]


def repo_to_json(repo: Repo) -> str:
    return json.dumps(repo.__dict__)


def repo_from_json(text: str) -> Repo:
    return Repo(**json.loads(text))


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def stored_body(req: DeployRequest) -> list[str]:
    """What the body log keeps of a request, to be written UTF-8: its fields as one JSON line,
    secret left out, then each attachment's data URI as it arrived.

    The secret is never written because it is never in what is written. The data URIs, nearly all
    of a large request, are not escaped into JSON, and ``_append`` encodes them a slice at a time.
    """
    doc = req.public_document()
    doc["attachments"] = [{"name": a["name"], "size": _utf8_len(a["url"])} for a in req.attachments]
    return [json.dumps(doc, separators=(",", ":")) + "\n", *(a["url"] for a in req.attachments)]


def _public(stored: bytes) -> dict[str, Any]:
    """A stored body (``stored_body``) as the worker reads it: the request's fields, no secret."""
    head, _, urls = stored.partition(b"\n")
    body: dict[str, Any] = json.loads(head)
    at, attachments = 0, []
    for item in body["attachments"]:
        attachments.append({"name": item["name"], "url": urls[at : at + item["size"]].decode()})
        at += item["size"]
    return {**body, "attachments": attachments}


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _open_for_writes(log: Path, direct: bool = True) -> int:
    """The log opened for direct I/O, or through the page cache where its filesystem has none."""
    try:
        return os.open(log, os.O_WRONLY | (getattr(os, "O_DIRECT", 0) if direct else 0))
    except OSError:
        return os.open(log, os.O_WRONLY)


class Journal:
    """A thread-safe journal: one SQLite connection behind a lock, one body log, one writer."""

    def __init__(self, path: Path | str, *, clock: Any = time.time) -> None:
        path = Path(path)
        # Created 0600 before SQLite opens it: SQLite gives the WAL and shm files the database
        # file's mode, so all three stay private (docs/security.md, files at rest).
        private_file(private_dir(path.parent) / path.name)
        self._clock = clock
        # Told (id, task) of each new request once it is durable, on the writer thread, before the
        # door answers: the worker listens (``Worker.start``), so the event loop wakes no thread.
        self.on_recorded: Callable[[int, str], None] = lambda request_id, task: None
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(requests)")}
        for name in [c for c in _BODY_COLUMNS if c not in columns]:
            self._db.execute(f"ALTER TABLE requests ADD COLUMN {name} INTEGER")
        log = path.with_name(path.name + "-bodies")
        new_log = not log.exists()
        private_file(log)
        self._log = os.open(log, os.O_RDONLY)  # the worker reads bodies through the page cache
        self._log_path, self._stage = log, mmap.mmap(-1, _STAGE)
        self._writes = _open_for_writes(log)
        if new_log:  # the file's name must survive a power cut as well as its bytes
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        # Appends go to space allocated ahead: extending a file costs ext4 ~2 ms of CPU per MB
        # written, filling allocated space ~0.2 ms. Bytes past the last row's are unreferenced.
        self._allocated = os.fstat(self._log).st_size
        (end,) = self._db.execute(
            "SELECT coalesce(max(body_offset + body_length), 0) FROM requests"
        ).fetchone()
        self._end = _aligned(end)  # each batch starts on a boundary, after the last one's padding
        self._commits: GroupCommit[DeployRequest, tuple[int, bool]] = GroupCommit(
            self._write_batch, "journal-writer"
        )

    def close(self) -> None:
        self._commits.close()
        with self._lock:
            self._db.close()
        os.close(self._log)
        os.close(self._writes)
        self._stage.close()

    def record(self, req: DeployRequest) -> tuple[int, bool]:
        """Durably store a request; return (id, is_new).

        A repeat of a known (task, round, nonce) adds nothing. Blocks until fsync'd.
        """
        return self._commits.submit(req)

    async def record_async(self, req: DeployRequest) -> tuple[int, bool]:
        """``record`` for the event loop: awaits the writer thread instead of blocking."""
        return await self._commits.submit_async(req)

    def _write_batch(self, items: list[DeployRequest]) -> list[tuple[int, bool]]:
        # One statement per step, not one per request: each lets the event loop take the GIL,
        # and taking it back costs more than the statement.
        keys = [(req.task, req.round, req.nonce) for req in items]
        with self._lock:
            known = self._ids(keys)
        pieces: list[str] = []
        rows: list[Any] = []
        at, firsts = self._end, dict[tuple[str, int, str], None]()  # new ones, in arrival order
        for key, req in zip(keys, items, strict=True):
            if key not in known and key not in firsts:  # a repeat in the batch is a duplicate
                firsts[key] = None
                body = stored_body(req)
                length = sum(map(_utf8_len, body))
                pieces += body
                rows += [*key, at, length]
                at += length
        if rows:
            if _aligned(at) > self._allocated:
                grow = max(_LOG_GROWTH, _aligned(at) - self._allocated)
                os.posix_fallocate(self._writes, self._allocated, grow)
                self._allocated = os.fstat(self._writes).st_size
            end = self._append(pieces)
            os.fdatasync(self._writes)
            with self._lock:
                known.update(self._insert(rows))
            self._end = end
            for key in firsts:
                self.on_recorded(known[key], key[0])
        results = []
        for key in keys:
            results.append((known[key], key in firsts))
            firsts.pop(key, None)
        return results

    def _append(self, pieces: list[str]) -> int:
        """Write ``pieces`` UTF-8 from the log's end through the aligned buffer; return the new end.

        Direct I/O takes buffers, offsets and lengths on ``_ALIGN`` boundaries, so the last write
        of a batch is padded with zeros: the page cache's cost per MB grew with the batch (0.8 ms
        of system CPU per MB in batches of 20 MB), a copy into this buffer does not. Encoding a
        1 MB string whole took fresh memory, 256 page faults, each time; a slice reuses its block.
        """

        def write(at: int, filled: int) -> int:
            size = _aligned(filled)
            self._stage[filled:size] = bytes(size - filled)
            try:
                written = os.pwrite(self._writes, memoryview(self._stage)[:size], at)
            except OSError as exc:  # a device whose blocks _ALIGN does not fit: page cache for good
                if exc.errno != errno.EINVAL:
                    raise
                os.close(self._writes)
                self._writes = _open_for_writes(self._log_path, direct=False)
                written = os.pwrite(self._writes, memoryview(self._stage)[:size], at)
            if written != size:
                raise OSError(f"short write to the journal's body log at {at}")
            return at + size

        at, filled = self._end, 0
        for piece in pieces:
            for first in range(0, len(piece), _SLICE):
                view = memoryview(piece[first : first + _SLICE].encode())
                while view:
                    n = min(len(view), _STAGE - filled)
                    self._stage[filled : filled + n] = view[:n]
                    filled, view = filled + n, view[n:]
                    if filled == _STAGE:
                        at, filled = write(at, filled), 0
        return write(at, filled) if filled else at

    def _ids(self, keys: list[tuple[str, int, str]]) -> dict[tuple[str, int, str], int]:
        """The ids of those (task, round, nonce) already journaled; call with the lock held."""
        marks = ", ".join(["(?, ?, ?)"] * len(keys))
        rows = self._db.execute(
            f"SELECT r.id, r.task, r.round, r.nonce FROM (VALUES {marks}) AS k JOIN requests r"
            " ON (r.task, r.round, r.nonce) = (k.column1, k.column2, k.column3)",
            [v for key in keys for v in key],
        )
        return {(t, r, n): i for i, t, r, n in rows}

    def _insert(self, rows: list[Any]) -> dict[tuple[Any, ...], int]:
        """Insert request rows (flat: task, round, nonce, offset, length, ...); lock held.

        One statement, so one transaction; SQLite gives each new row the largest id plus one,
        so the ids are consecutive and end at ``lastrowid``.
        """
        now, values, keys = self._clock(), [], []
        for i in range(0, len(rows), 5):
            values += [*rows[i : i + 5], now, now, os.urandom(16).hex()]
            keys.append(tuple(rows[i : i + 3]))
        last = self._db.execute(
            "INSERT INTO requests (task, round, nonce, body_offset, body_length, received_at,"
            " updated_at, dispatch_id, body) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, '')"] * len(keys)),
            values,
        ).lastrowid
        return {key: int(last or 0) - len(keys) + 1 + i for i, key in enumerate(keys)}

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
            return row

    def _run(self, sql: str, *args: Any) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def _body(self, row: sqlite3.Row) -> dict[str, Any]:
        """A row's request body, parsed off the request path; call without the lock."""
        if row["body_length"] is not None:
            return _public(os.pread(self._log, row["body_length"], row["body_offset"]))
        body = dict(json.loads(row["body"]))  # a row from before the body log
        if "attachments" not in body:  # inline in the oldest rows, else in the table of their day
            body["attachments"] = [
                dict(a)
                for a in self._all(
                    "SELECT name, url FROM attachments WHERE request_id = ? ORDER BY position",
                    row["id"],
                )
            ]
        return body

    def get(self, request_id: int) -> Entry:
        row = self._one("SELECT * FROM requests WHERE id = ?", request_id)
        if row is None:
            raise KeyError(request_id)
        fields = {f: row[f] for f in Entry.__dataclass_fields__ if f != "body"}
        return Entry(**fields, body=self._body(row))

    def find(self, task: str, round_: int, nonce: str) -> int | None:
        """The id of the request with this (task, round, nonce), or None."""
        with self._lock:
            return self._ids([(task, round_, nonce)]).get((task, round_, nonce))

    def pending(self) -> list[tuple[int, str]]:
        """(id, task) of requests not yet in a final state, oldest first."""
        marks = ",".join("?" * len(FINAL_STATES))
        rows = self._all(
            f"SELECT id, task FROM requests WHERE state NOT IN ({marks}) ORDER BY id", *FINAL_STATES
        )
        return [(int(r["id"]), str(r["task"])) for r in rows]

    def mark(self, request_id: int, state: str | None = None, **fields: str | None) -> None:
        """Set a request's state and/or its repo, repo_url, pages_url, run_url or error."""
        unknown = set(fields) - _FIELDS
        if unknown:
            raise ValueError(f"unknown journal fields: {sorted(unknown)}")
        changes: dict[str, Any] = {"updated_at": self._clock(), **fields}
        if state is not None:
            changes["state"] = state
        sets = ", ".join(f"{name} = ?" for name in changes)
        self._run(f"UPDATE requests SET {sets} WHERE id = ?", *changes.values(), request_id)

    def step(self, request_id: int, step: str, detail: str = "") -> None:
        """Append a completed step for a request."""
        self._run(
            "INSERT INTO steps (request_id, step, at, detail) VALUES (?, ?, ?, ?)",
            request_id,
            step,
            self._clock(),
            detail,
        )

    def steps(self, request_id: int) -> dict[str, str]:
        """Completed steps of a request: name → detail of its latest record."""
        rows = self._all(
            "SELECT step, detail FROM steps WHERE request_id = ? ORDER BY rowid", request_id
        )
        return {r["step"]: r["detail"] for r in rows}

    def earlier_checks(self, task: str, round_: int, repo: str) -> list[Any]:
        """The checks of the task's earlier rounds on this repo, oldest first, each once.

        A round 2 re-runs them so that a revision cannot silently lose what round 1 passed.
        """
        rows = self._all(
            "SELECT * FROM requests WHERE task = ? AND round < ? AND repo = ? ORDER BY round, id",
            task,
            round_,
            repo,
        )
        seen: dict[str, Any] = {}
        for row in rows:
            for check in self._body(row).get("checks", []):
                seen.setdefault(json.dumps(check, sort_keys=True), check)
        return list(seen.values())

    def add_repo(self, task: str, repo: Repo) -> None:
        """Remember that a repo belongs to a task (newest added last)."""
        self._run(
            "INSERT INTO repos (task, full_name, repo) VALUES (?, ?, ?)"
            " ON CONFLICT (task, full_name) DO NOTHING",
            task,
            repo.full_name,
            repo_to_json(repo),
        )

    def task_repos(self, task: str) -> list[Repo]:
        """The task's known repos, oldest first."""
        rows = self._all("SELECT repo FROM repos WHERE task = ? ORDER BY rowid", task)
        return [repo_from_json(r["repo"]) for r in rows]

    def repo_facts(self, full_name: str) -> set[str]:
        """What is known to be done on a repo (e.g. 'workflow', 'pages', 'secret:NAME')."""
        rows = self._all("SELECT facts FROM repos WHERE full_name = ?", full_name)
        return {fact for r in rows for fact in json.loads(r["facts"])}

    def add_repo_fact(self, full_name: str, fact: str) -> None:
        self._run(  # a set: UNION keeps each fact once
            "UPDATE repos SET facts = (SELECT json_group_array(value) FROM"
            " (SELECT value FROM json_each(facts) UNION SELECT ?)) WHERE full_name = ?",
            fact,
            full_name,
        )

    def set_outcome(self, request_id: int, outcome: dict[str, Any]) -> None:
        """Keep how a round's run ended (``receiver.outcome``), once it is known for good."""
        self._run(
            "INSERT INTO outcomes (request_id, outcome, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (request_id) DO UPDATE SET outcome = excluded.outcome,"
            " updated_at = excluded.updated_at",
            request_id,
            json.dumps(outcome, separators=(",", ":")),
            self._clock(),
        )

    def outcome(self, request_id: int) -> dict[str, Any] | None:
        """The kept outcome of a round, or None."""
        row = self._one("SELECT outcome FROM outcomes WHERE request_id = ?", request_id)
        return None if row is None else dict(json.loads(row["outcome"]))

    def payload_key(self, full_name: str) -> str | None:
        """The repo's payload key (base64) as last stored by this journal, or None."""
        row = self._one("SELECT payload_key FROM repo_keys WHERE full_name = ?", full_name)
        return None if row is None else str(row["payload_key"])

    def set_payload_key(self, full_name: str, key: str) -> None:
        """Store (or replace) the repo's payload key; it exists nowhere else but the repo secret."""
        self._run(
            "INSERT INTO repo_keys (full_name, payload_key) VALUES (?, ?)"
            " ON CONFLICT (full_name) DO UPDATE SET payload_key = excluded.payload_key",
            full_name,
            key,
        )

    def status(self, task: str) -> dict[str, Any] | None:
        """The task's rounds for the status endpoint: no secret, email, brief or evaluation URL."""
        rows = self._all(
            "SELECT round, nonce, state, repo, repo_url, pages_url, run_url, error,"
            " received_at, updated_at FROM requests WHERE task = ? ORDER BY id",
            task,
        )
        if not rows:
            return None
        rounds = [dict(r) for r in rows]
        latest: dict[str, Any] = next((r for r in reversed(rounds) if r["repo"]), {})
        return {
            "task": task,
            **{k: latest.get(k) for k in ("repo", "repo_url", "pages_url")},
            "rounds": rounds,
        }

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest requests first with their latest step; no secret, email, brief or notify URL."""
        rows = self._all(
            "SELECT r.id, r.task, r.round, r.state, r.repo, r.repo_url, r.pages_url,"
            " r.run_url, r.error, r.received_at, r.updated_at,"
            " (SELECT s.step FROM steps s WHERE s.request_id = r.id"
            "  ORDER BY s.rowid DESC LIMIT 1) AS last_step"
            " FROM requests r ORDER BY r.id DESC LIMIT ?",
            limit,
        )
        return [dict(r) for r in rows]
