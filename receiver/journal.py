"""The durable journal: every request before its 200, every worker step after it (SQLite, WAL).

``synchronous=FULL`` makes each commit fsync the WAL, so a request answered 200 survives a power
cut, not only a process crash. Concurrent requests share one commit (group commit) and WAL
checkpoints run on their own thread, so 20 simultaneous 1 MB requests do not queue behind 20
fsyncs. Attachments (data URIs, up to megabytes) are stored as plain TEXT rows of their own table,
not re-encoded as JSON inside ``body``: escaping a 1 MB string costs more than writing it. Rows
hold the request minus its secret (email and evaluation URL included, because the payload needs
them): the file lives only on the receiver's own disk and never reaches a repo, a log or the
status endpoint.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receiver.forge import Repo
from receiver.group_commit import Checkpointer, GroupCommit
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
    repo TEXT,
    repo_url TEXT,
    pages_url TEXT,
    run_url TEXT,
    error TEXT,
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
CREATE TABLE IF NOT EXISTS attachments (
    request_id INTEGER NOT NULL REFERENCES requests(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (request_id, position)
);
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
CREATE TABLE IF NOT EXISTS repo_keys (
    full_name TEXT PRIMARY KEY,
    payload_key TEXT NOT NULL
);
"""

_Row = tuple[DeployRequest, str, list[dict[str, str]]]  # request, body JSON, attachments
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


class Journal:
    """A thread-safe journal over one SQLite connection guarded by a lock."""

    def __init__(self, path: Path | str, *, clock: Any = time.time) -> None:
        if str(path) != ":memory:":
            # Created 0600 before SQLite opens it: SQLite gives the WAL and shm files the
            # database file's mode, so all three stay private (docs/security.md, files at rest).
            private_file(Path(private_dir(Path(path).parent)) / Path(path).name)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        # Only a new, empty file takes this: 16 KB pages cut the per-page work of a 1 MB row by a
        # third, while the worker's small updates still write small frames.
        self._db.execute("PRAGMA page_size=16384")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._commits: GroupCommit[_Row, tuple[int, bool]] = GroupCommit(self._insert_batch)
        self._checkpointer: Checkpointer | None = None
        if str(path) != ":memory:":
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job instead
            self._db.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
            self._checkpointer = Checkpointer(str(path))

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        with self._lock:
            self._db.close()

    def record(self, req: DeployRequest) -> tuple[int, bool]:
        """Durably store a request; return (id, is_new). A repeat adds nothing."""
        doc = req.public_document()
        attachments = doc.pop("attachments")
        return self._commits.submit((req, json.dumps(doc, separators=(",", ":")), attachments))

    def _insert_batch(self, rows: list[_Row]) -> list[tuple[int, bool]]:
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                results = [self._insert(*row, now) for row in rows]
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if self._checkpointer is not None:
            self._checkpointer.wrote(sum(len(a["url"]) + 1024 for r in rows for a in r[2]))
        return results

    def _insert(
        self, req: DeployRequest, body: str, attachments: list[dict[str, str]], now: float
    ) -> tuple[int, bool]:
        cur = self._db.execute(
            "INSERT INTO requests (task, round, nonce, received_at, updated_at, dispatch_id,"
            " body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task, round, nonce) DO NOTHING",
            (req.task, req.round, req.nonce, now, now, uuid.uuid4().hex, body),
        )
        if cur.rowcount == 1:
            request_id = int(cur.lastrowid or 0)
            self._db.executemany(
                "INSERT INTO attachments (request_id, position, name, url) VALUES (?, ?, ?, ?)",
                [(request_id, i, a["name"], a["url"]) for i, a in enumerate(attachments)],
            )
            return request_id, True
        row = self._db.execute(
            "SELECT id FROM requests WHERE task = ? AND round = ? AND nonce = ?",
            (req.task, req.round, req.nonce),
        ).fetchone()
        return int(row["id"]), False

    def get(self, request_id: int) -> Entry:
        with self._lock:
            row = self._db.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                raise KeyError(request_id)
            body = json.loads(row["body"])
            if "attachments" not in body:  # kept apart since group commit; older rows inline them
                body["attachments"] = [
                    dict(a)
                    for a in self._db.execute(
                        "SELECT name, url FROM attachments WHERE request_id = ? ORDER BY position",
                        (request_id,),
                    )
                ]
        return Entry(
            id=row["id"],
            task=row["task"],
            round=row["round"],
            nonce=row["nonce"],
            received_at=row["received_at"],
            state=row["state"],
            dispatch_id=row["dispatch_id"],
            repo=row["repo"],
            run_url=row["run_url"],
            error=row["error"],
            body=body,
        )

    def find(self, task: str, round_: int, nonce: str) -> int | None:
        """The id of the request with this (task, round, nonce), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM requests WHERE task = ? AND round = ? AND nonce = ?",
                (task, round_, nonce),
            ).fetchone()
        return None if row is None else int(row["id"])

    def pending(self) -> list[int]:
        """Ids of requests not yet in a final state, oldest first."""
        marks = ",".join("?" * len(FINAL_STATES))
        with self._lock:
            rows = self._db.execute(
                f"SELECT id FROM requests WHERE state NOT IN ({marks}) ORDER BY id",
                tuple(FINAL_STATES),
            ).fetchall()
        return [int(r["id"]) for r in rows]

    def mark(self, request_id: int, state: str | None = None, **fields: str | None) -> None:
        """Set a request's state and/or its repo, repo_url, pages_url, run_url or error."""
        unknown = set(fields) - _FIELDS
        if unknown:
            raise ValueError(f"unknown journal fields: {sorted(unknown)}")
        sets = ["updated_at = ?"]
        values: list[Any] = [self._clock()]
        if state is not None:
            sets.append("state = ?")
            values.append(state)
        for name, value in fields.items():
            sets.append(f"{name} = ?")
            values.append(value)
        with self._lock:
            self._db.execute(
                f"UPDATE requests SET {', '.join(sets)} WHERE id = ?", (*values, request_id)
            )

    def step(self, request_id: int, step: str, detail: str = "") -> None:
        """Append a completed step for a request."""
        with self._lock:
            self._db.execute(
                "INSERT INTO steps (request_id, step, at, detail) VALUES (?, ?, ?, ?)",
                (request_id, step, self._clock(), detail),
            )

    def steps(self, request_id: int) -> dict[str, str]:
        """Completed steps of a request: name → detail of its latest record."""
        with self._lock:
            rows = self._db.execute(
                "SELECT step, detail FROM steps WHERE request_id = ? ORDER BY rowid", (request_id,)
            ).fetchall()
        return {r["step"]: r["detail"] for r in rows}

    def earlier_checks(self, task: str, round_: int, repo: str) -> list[Any]:
        """The checks of the task's earlier rounds on this repo, oldest first, each once.

        A round 2 re-runs them so that a revision cannot silently lose what round 1 passed.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM requests WHERE task = ? AND round < ? AND repo = ?"
                " ORDER BY round, id",
                (task, round_, repo),
            ).fetchall()
        seen: dict[str, Any] = {}
        for row in rows:
            for check in json.loads(row["body"]).get("checks", []):
                seen.setdefault(json.dumps(check, sort_keys=True), check)
        return list(seen.values())

    def add_repo(self, task: str, repo: Repo) -> None:
        """Remember that a repo belongs to a task (newest added last)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO repos (task, full_name, repo) VALUES (?, ?, ?)"
                " ON CONFLICT (task, full_name) DO NOTHING",
                (task, repo.full_name, repo_to_json(repo)),
            )

    def task_repos(self, task: str) -> list[Repo]:
        """The task's known repos, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT repo FROM repos WHERE task = ? ORDER BY rowid", (task,)
            ).fetchall()
        return [repo_from_json(r["repo"]) for r in rows]

    def repo_facts(self, full_name: str) -> set[str]:
        """What is known to be done on a repo (e.g. 'workflow', 'pages', 'secret:NAME')."""
        with self._lock:
            rows = self._db.execute(
                "SELECT facts FROM repos WHERE full_name = ?", (full_name,)
            ).fetchall()
        return {fact for r in rows for fact in json.loads(r["facts"])}

    def add_repo_fact(self, full_name: str, fact: str) -> None:
        with self._lock:
            rows = self._db.execute(
                "SELECT task, facts FROM repos WHERE full_name = ?", (full_name,)
            ).fetchall()
            for r in rows:
                facts = sorted(set(json.loads(r["facts"])) | {fact})
                self._db.execute(
                    "UPDATE repos SET facts = ? WHERE task = ? AND full_name = ?",
                    (json.dumps(facts), r["task"], full_name),
                )

    def set_outcome(self, request_id: int, outcome: dict[str, Any]) -> None:
        """Keep how a round's run ended (``receiver.outcome``), once it is known for good."""
        with self._lock:
            self._db.execute(
                "INSERT INTO outcomes (request_id, outcome, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (request_id) DO UPDATE SET outcome = excluded.outcome,"
                " updated_at = excluded.updated_at",
                (request_id, json.dumps(outcome, separators=(",", ":")), self._clock()),
            )

    def outcome(self, request_id: int) -> dict[str, Any] | None:
        """The kept outcome of a round, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT outcome FROM outcomes WHERE request_id = ?", (request_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row["outcome"]))

    def payload_key(self, full_name: str) -> str | None:
        """The repo's payload key (base64) as last stored by this journal, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT payload_key FROM repo_keys WHERE full_name = ?", (full_name,)
            ).fetchone()
        return None if row is None else str(row["payload_key"])

    def set_payload_key(self, full_name: str, key: str) -> None:
        """Store (or replace) the repo's payload key; it exists nowhere else but the repo secret."""
        with self._lock:
            self._db.execute(
                "INSERT INTO repo_keys (full_name, payload_key) VALUES (?, ?)"
                " ON CONFLICT (full_name) DO UPDATE SET payload_key = excluded.payload_key",
                (full_name, key),
            )

    def status(self, task: str) -> dict[str, Any] | None:
        """The task's rounds for the status endpoint: no secret, email, brief or evaluation URL."""
        with self._lock:
            rows = self._db.execute(
                "SELECT round, nonce, state, repo, repo_url, pages_url, run_url, error,"
                " received_at, updated_at FROM requests WHERE task = ? ORDER BY id",
                (task,),
            ).fetchall()
        if not rows:
            return None
        rounds = [dict(r) for r in rows]
        latest = next((r for r in reversed(rounds) if r["repo"]), None)
        return {
            "task": task,
            "repo": latest["repo"] if latest else None,
            "repo_url": latest["repo_url"] if latest else None,
            "pages_url": latest["pages_url"] if latest else None,
            "rounds": rounds,
        }

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest requests first with their latest step; no secret, email, brief or notify URL."""
        with self._lock:
            rows = self._db.execute(
                "SELECT r.id, r.task, r.round, r.state, r.repo, r.repo_url, r.pages_url,"
                " r.run_url, r.error, r.received_at, r.updated_at,"
                " (SELECT s.step FROM steps s WHERE s.request_id = r.id"
                "  ORDER BY s.rowid DESC LIMIT 1) AS last_step"
                " FROM requests r ORDER BY r.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(r) for r in rows]
