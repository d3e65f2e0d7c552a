"""The journal: idempotent, durable across reopen, thread-safe, and its status is secret-free."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from receiver.forge import Repo
from receiver.group_commit import GroupCommit
from receiver.journal import Journal
from receiver.request import DeployRequest

SECRETS = ("hunter2", "student@example.com", "https://eval.example/notify", "PLAINTEXT BRIEF")


def make_request(task: str = "t", round_: int = 1, nonce: str = "n1") -> DeployRequest:
    return DeployRequest(
        email="student@example.com",
        secret="hunter2",
        task=task,
        round=round_,
        nonce=nonce,
        brief="PLAINTEXT BRIEF",
        evaluation_url="https://eval.example/notify",
        checks=["c"],
    )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "j.sqlite3")
    yield j
    j.close()


def test_record_is_idempotent_on_task_round_nonce(journal: Journal) -> None:
    first = journal.record(make_request())
    again = journal.record(make_request())
    other = journal.record(make_request(nonce="n2"))
    assert first[1] is True and again == (first[0], False)
    assert other[1] is True and other[0] != first[0]
    assert journal.pending() == [first[0], other[0]]


def test_records_survive_reopen_without_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    request_id, _ = j.record(make_request())
    j.step(request_id, "repo", "detail")
    j.close()
    reopened = Journal(path)
    entry = reopened.get(request_id)
    assert entry.state == "queued" and entry.body["brief"] == "PLAINTEXT BRIEF"
    assert "secret" not in entry.body and reopened.steps(request_id) == {"repo": "detail"}
    assert len(entry.dispatch_id) == 32
    reopened.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"hunter2" not in files and b"PLAINTEXT BRIEF" in files


def test_mark_moves_states_and_rejects_unknown_fields(journal: Journal) -> None:
    request_id, _ = journal.record(make_request())
    journal.mark(request_id, "dispatched", run_url="https://run")
    entry = journal.get(request_id)
    assert (entry.state, entry.run_url) == ("dispatched", "https://run")
    assert journal.pending() == []
    with pytest.raises(ValueError, match="unknown journal fields"):
        journal.mark(request_id, body="x")


def test_repos_and_facts(journal: Journal) -> None:
    a = Repo("t", "o", "https://h/o/t", "https://o.io/t/", 1.0)
    b = Repo("t-2", "o", "https://h/o/t-2", "https://o.io/t-2/", 2.0)
    journal.add_repo("t", a)
    journal.add_repo("t", b)
    journal.add_repo("t", a)
    assert journal.task_repos("t") == [a, b] and journal.task_repos("u") == []
    journal.add_repo_fact("o/t", "pages")
    journal.add_repo_fact("o/t", "pages")
    journal.add_repo_fact("o/t", "workflow")
    assert journal.repo_facts("o/t") == {"pages", "workflow"}
    assert journal.repo_facts("o/t-2") == set()


def test_status_hides_secrets(journal: Journal) -> None:
    r1, _ = journal.record(make_request())
    journal.mark(r1, "dispatched", repo="o/t", repo_url="https://h/o/t", run_url="https://run")
    journal.record(make_request(round_=2, nonce="n2"))
    status = journal.status("t")
    assert status is not None and journal.status("nope") is None
    assert status["repo"] == "o/t" and [r["round"] for r in status["rounds"]] == [1, 2]
    assert [r["state"] for r in status["rounds"]] == ["dispatched", "queued"]
    text = json.dumps(status)
    assert not any(s in text for s in SECRETS)


def test_concurrent_records_from_many_threads(journal: Journal) -> None:
    results: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        for nonce in (f"n{i}", f"n{i}", "shared"):
            outcome = journal.record(make_request(nonce=nonce))
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    new_ids = {rid for rid, is_new in results if is_new}
    assert len(new_ids) == 17 and len({rid for rid, _ in results}) == 17
    assert len(journal.pending()) == 17


def attachment(i: int, size: int = 300_000) -> dict[str, str]:
    return {"name": f"a{i}.bin", "url": "data:application/octet-stream;base64," + "QUJD" * size}


def test_attachments_round_trip_in_their_own_table(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    items = [attachment(0), attachment(1, 3)]
    rid, _ = j.record(dataclasses.replace(make_request(), attachments=items))
    bare, _ = j.record(make_request(nonce="n2"))
    j.close()
    reopened = Journal(path)
    assert reopened.get(rid).body["attachments"] == items
    assert reopened.get(bare).body["attachments"] == []
    assert list(reopened.get(rid).body) == list(make_request().public_document())
    reopened.close()
    with sqlite3.connect(path) as raw:
        stored = raw.execute("SELECT body FROM requests WHERE id = ?", (rid,)).fetchone()[0]
        assert "attachments" not in json.loads(stored)  # the megabytes are not JSON-escaped
        assert raw.execute("SELECT count(*) FROM attachments").fetchone()[0] == 2
    raw.close()


def test_rows_with_inline_attachments_still_read(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    rid, _ = j.record(make_request())
    j.close()
    inline = {**make_request().public_document(), "attachments": [attachment(7, 2)]}
    with sqlite3.connect(path) as raw:  # a journal written before attachments had a table
        raw.execute("UPDATE requests SET body = ? WHERE id = ?", (json.dumps(inline), rid))
    raw.close()
    reopened = Journal(path)
    assert reopened.get(rid).body["attachments"] == [attachment(7, 2)]
    reopened.close()


@pytest.mark.parametrize("writers", [2, 20], ids=["two", "twenty"])
def test_concurrent_records_in_batches_all_land(tmp_path: Path, writers: int) -> None:
    batches: list[int] = []
    j = Journal(tmp_path / "j.sqlite3")
    write_batch = j._insert_batch

    def counting(rows: list[Any]) -> list[tuple[int, bool]]:
        batches.append(len(rows))
        return write_batch(rows)

    j._commits = GroupCommit(counting)
    gate = threading.Barrier(writers)

    def work(i: int) -> tuple[int, bool]:
        gate.wait()
        return j.record(
            dataclasses.replace(make_request(nonce=f"n{i}"), attachments=[attachment(i, 50_000)])
        )

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(work, range(writers)))
    assert all(is_new for _, is_new in results) and len({rid for rid, _ in results}) == writers
    assert sum(batches) == writers and len(batches) <= writers
    assert [j.get(rid).nonce for rid, _ in results] == [f"n{i}" for i in range(writers)]
    j.close()
    reopened = Journal(tmp_path / "j.sqlite3")
    assert len(reopened.pending()) == writers
    reopened.close()


def test_a_failed_batch_fails_every_writer_in_it_and_the_next_one_works() -> None:
    calls: list[list[int]] = []
    release = threading.Event()

    def write(items: list[int]) -> list[int]:
        calls.append(items)
        if items == [0]:
            release.wait(5)  # hold the first batch so the others queue behind it
            return [0]
        if 13 in items:
            raise sqlite3.OperationalError("disk I/O error")
        return [i * 10 for i in items]

    commits: GroupCommit[int, int] = GroupCommit(write)
    outcomes: dict[int, object] = {}

    def submit(i: int) -> None:
        try:
            outcomes[i] = commits.submit(i)
        except sqlite3.OperationalError as exc:
            outcomes[i] = str(exc)

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    while not calls:
        time.sleep(0.001)
    others = [threading.Thread(target=submit, args=(i,)) for i in (12, 13)]
    for t in others:
        t.start()
    while len(commits._queue) < 2:
        time.sleep(0.001)
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert calls == [[0], [12, 13]]
    assert outcomes == {0: 0, 12: "disk I/O error", 13: "disk I/O error"}
    assert commits.submit(4) == 40


def test_checkpoints_keep_the_wal_small_and_the_data_in_the_database(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    for i in range(12):  # ~14 MB: past the checkpointer's 8 MB threshold
        j.record(
            dataclasses.replace(make_request(nonce=f"n{i}"), attachments=[attachment(i, 300_000)])
        )
    deadline = time.monotonic() + 10
    while path.stat().st_size < 8 * 1024 * 1024:  # backfilled by the checkpointer's thread
        assert time.monotonic() < deadline, "no checkpoint ran"
        time.sleep(0.05)
    j.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA page_size").fetchone()[0] == 16384
        assert raw.execute("SELECT count(*) FROM attachments").fetchone()[0] == 12
    raw.close()
