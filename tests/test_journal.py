"""The journal: idempotent, durable across reopen, thread-safe, and its status is secret-free."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import receiver.journal as journal_module
from receiver.forge import Repo
from receiver.group_commit import GroupCommit
from receiver.journal import Journal
from receiver.request import DeployRequest, parse_request

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
    assert journal.pending() == [(first[0], "t"), (other[0], "t")]


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


def test_bodies_live_in_the_log_not_in_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    items = [attachment(0), attachment(1, 3), {"name": "é.txt", "url": "data:,naïve ☃"}]
    rid, _ = j.record(dataclasses.replace(make_request(), attachments=items))
    bare, _ = j.record(make_request(nonce="n2"))
    j.close()
    reopened = Journal(path)
    assert reopened.get(rid).body["attachments"] == items
    assert reopened.get(bare).body["attachments"] == []
    assert list(reopened.get(rid).body) == list(make_request().public_document())
    reopened.close()
    assert Path(f"{path}-bodies").stat().st_size > 1_200_000  # the attachments are here
    for name in (path, Path(f"{path}-wal")):
        assert not name.exists() or b"QUJDQUJD" not in name.read_bytes()


def _raw(secret_member: str, **changes: Any) -> bytes:
    """A request body as a client might send it, with the secret member spelt as given."""
    doc = {**make_request().public_document(), "attachments": [attachment(0, 3)], **changes}
    text = json.dumps(doc)
    return ("{" + secret_member + ", " + text[1:]).encode()


RAW_BODIES = [  # the secret member as a client might spell it, and other fields around it
    ('"secret": "hunter2"', {}),
    ('"secret":"hunter2"', {"checks": ["c", {"js": "1", "secret": "hunter2"}]}),
    ('"secret" :\n  "hunter2"', {"brief": 'say "secret": "decoy" \\ "x\\" here'}),
    ('"\\u0073ecret": "hunter2"', {}),
    ('"secret": "hunt\\u0065r2"', {}),
    ('"secret": "decoy", "secret": "hunter2"', {}),
]


@pytest.mark.parametrize(
    ("member", "changes"),
    RAW_BODIES,
    ids=["plain", "nested-too", "spaced", "escaped-key", "escaped-value", "repeated"],
)
def test_journal_files_never_hold_the_secret(
    tmp_path: Path, member: str, changes: dict[str, Any]
) -> None:
    raw = _raw(member, **changes)
    req = parse_request(json.loads(raw))
    assert req.secret == "hunter2"
    j = Journal(tmp_path / "j.sqlite3")
    rid, _ = j.record(req)
    body = j.get(rid).body
    j.close()
    assert "secret" not in body and body["brief"] == req.brief
    assert body["attachments"] == [attachment(0, 3)]
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"hunter2" not in files and b"hunt\\u0065r2" not in files
    assert attachment(0, 3)["url"].encode() in files  # the data URI as it arrived, not escaped


def test_a_batch_of_many_pieces_lands_whole(tmp_path: Path) -> None:
    """Twelve requests of 100 attachments each: 1,212 pieces copied through one aligned buffer."""
    j = Journal(tmp_path / "j.sqlite3")
    files = [{"name": f"f{i}.txt", "url": f"data:,{i}"} for i in range(100)]
    reqs = [dataclasses.replace(make_request(nonce=f"n{k}"), attachments=files) for k in range(12)]
    results = j._write_batch(reqs)  # one batch, however the writer thread would have grouped them
    assert [is_new for _, is_new in results] == [True] * 12
    assert all(j.get(rid).body["attachments"] == files for rid, _ in results)
    j.close()


def test_bodies_larger_than_the_buffer_land_whole_and_batches_start_aligned(
    tmp_path: Path,
) -> None:
    """A 9 MB attachment spans three of the buffer's writes; the log ends on the boundary, and
    the next batch, after a restart too, starts there and leaves the earlier bodies intact."""
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    big = {"name": "big.bin", "url": "data:;base64," + "QUJD" * (9 * 1024 * 1024 // 4)}
    small = make_request(nonce="small")
    results = j._write_batch([small, dataclasses.replace(make_request(), attachments=[big])])
    assert j._end % journal_module._ALIGN == 0 and j._end > 9 * 1024 * 1024
    j.close()
    j = Journal(path)
    later, _ = j.record(make_request(nonce="later"))
    assert j.get(results[1][0]).body["attachments"] == [big]
    assert j.get(results[0][0]).body == j.get(later).body | {"nonce": "small"}
    j.close()


def test_a_data_uri_beyond_ascii_reads_back_as_it_arrived(tmp_path: Path) -> None:
    """Sizes are UTF-8 bytes, and a URI is encoded a slice at a time: 200,000 two-byte
    characters span several slices, and the attachment after them must start where they end."""
    j = Journal(tmp_path / "j.sqlite3")
    files = [
        {"name": "wide.txt", "url": "data:text/plain;charset=utf-8," + "é✓" * 100_000},
        {"name": "after.txt", "url": "data:,plain"},
    ]
    rid, _ = j.record(dataclasses.replace(make_request(), attachments=files))
    j.close()
    assert Journal(tmp_path / "j.sqlite3").get(rid).body["attachments"] == files


def _direct_io_here(folder: Path) -> bool:
    try:
        os.close(os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT))
    except OSError:
        return False
    return True


def test_the_body_log_is_written_with_direct_io_where_the_filesystem_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    direct = bool(fcntl.fcntl(j._writes, fcntl.F_GETFL) & os.O_DIRECT)
    j.close()
    assert direct == _direct_io_here(tmp_path)
    real_open = os.open

    def no_direct_io(file: Any, flags: int, *args: Any) -> int:  # as tmpfs before Linux 6.6
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(file, flags, *args)

    monkeypatch.setattr(journal_module.os, "open", no_direct_io)
    j = Journal(tmp_path / "other.sqlite3")
    rid, _ = j.record(make_request())
    assert not fcntl.fcntl(j._writes, fcntl.F_GETFL) & os.O_DIRECT
    assert j.get(rid).body["attachments"] == make_request().public_document()["attachments"]
    j.close()


def test_a_direct_write_the_device_refuses_goes_through_the_page_cache_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device whose blocks are larger than the alignment answers EINVAL: the batch is written
    anyway, and so is every later one."""
    real_pwrite, refused = os.pwrite, []

    def big_blocks(fd: int, data: Any, offset: int) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(journal_module.os, "pwrite", big_blocks)
    j = Journal(tmp_path / "j.sqlite3")
    first, _ = j.record(make_request())
    second, _ = j.record(make_request(nonce="n2"))
    assert len(refused) == (1 if _direct_io_here(tmp_path) else 0)
    assert j.get(first).body["nonce"] == "n1" and j.get(second).body["nonce"] == "n2"
    j.close()


def test_each_new_request_is_handed_on_once_durable_in_arrival_order(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    told: list[tuple[int, str, int]] = []

    def listener(request_id: int, task: str) -> None:
        # Durable before it is handed on: another connection already sees the committed row.
        with sqlite3.connect(path) as other:
            (rows,) = other.execute("SELECT count(*) FROM requests WHERE id = ?", [request_id])
        told.append((request_id, task, rows[0]))

    j.on_recorded = listener
    first, _ = j.record(make_request(task="a"))
    assert j.record(make_request(task="a")) == (first, False)  # a duplicate is not handed on
    batch = [make_request(task=t, nonce=n) for t, n in [("b", "1"), ("c", "1"), ("b", "1")]]
    results = j._write_batch(batch)  # one batch, a repeat inside it
    j.close()
    assert told == [(first, "a", 1), (results[0][0], "b", 1), (results[1][0], "c", 1)]
    assert [is_new for _, is_new in results] == [True, True, False]


def test_a_duplicate_delivery_writes_no_body(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    first = j.record(make_request())
    log = Path(f"{path}-bodies")
    written = j._end
    again = j.record(make_request())
    assert again == (first[0], False) and j._end == written
    gate = threading.Barrier(3)

    def twin(_: int) -> tuple[int, bool]:
        gate.wait()
        return j.record(make_request(nonce="twin"))

    with ThreadPoolExecutor(3) as pool:
        twins = list(pool.map(twin, range(3)))
    assert sorted(is_new for _, is_new in twins) == [False, False, True]
    assert len({rid for rid, _ in twins}) == 1
    j.close()
    # One body for the twins, whichever batches they shared.
    assert log.read_bytes().count(b'"nonce":"twin"') == 1
    assert log.exists()


def test_bytes_a_crash_left_past_the_last_row_are_written_over(tmp_path: Path) -> None:
    """A crash between the log's fdatasync and the rows' commit leaves bytes no row names: they
    never come back as a request, and the next batch writes over them."""
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    kept, _ = j.record(make_request(nonce="kept"))
    end = j._end
    j.close()
    with Path(f"{path}-bodies").open("r+b") as log:  # a batch whose rows were never committed
        log.seek(end)
        log.write(b'{"task": "t", "round": 1, "nonce": "orphan"}{"task": "tor')
    reopened = Journal(path)
    assert [reopened.get(i).nonce for i, _ in reopened.pending()] == ["kept"]
    after, is_new = reopened.record(make_request(nonce="after"))
    assert is_new and reopened.get(after).nonce == "after"
    assert reopened.get(kept).body["brief"] == "PLAINTEXT BRIEF"
    reopened.close()
    again = Journal(path)
    assert [again.get(i).nonce for i, _ in again.pending()] == ["kept", "after"]
    again.close()


def test_a_request_built_in_code_reads_back(tmp_path: Path) -> None:
    """`llm-deploy doctor` journals a request with no evaluation URL, which the door would refuse:
    the journal keeps and returns it as given."""
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    quiet = dataclasses.replace(make_request(nonce="quiet"), evaluation_url="")
    first, _ = j.record(quiet)
    j.close()
    reopened = Journal(path)
    assert reopened.get(first).body["evaluation_url"] == ""
    assert reopened.get(first).body["checks"] == ["c"]
    reopened.close()


OLD_SCHEMA = """
CREATE TABLE requests (
    id INTEGER PRIMARY KEY, task TEXT NOT NULL, round INTEGER NOT NULL, nonce TEXT NOT NULL,
    received_at REAL NOT NULL, updated_at REAL NOT NULL, state TEXT NOT NULL DEFAULT 'queued',
    dispatch_id TEXT NOT NULL, repo TEXT, repo_url TEXT, pages_url TEXT, run_url TEXT,
    error TEXT, body TEXT NOT NULL, UNIQUE (task, round, nonce)
);
CREATE TABLE attachments (
    request_id INTEGER NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,
    url TEXT NOT NULL, PRIMARY KEY (request_id, position)
);
"""


def test_a_journal_written_by_older_versions_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    doc = make_request().public_document()
    with sqlite3.connect(path) as raw:  # body JSON in the row: inline, or in the table
        raw.executescript(OLD_SCHEMA)
        rows = [
            ("n1", json.dumps({**doc, "attachments": [attachment(7, 2)]})),
            ("n2", json.dumps({k: v for k, v in doc.items() if k != "attachments"})),
        ]
        for nonce, body in rows:
            raw.execute(
                "INSERT INTO requests (task, round, nonce, received_at, updated_at, dispatch_id,"
                " body) VALUES ('t', 1, ?, 1.0, 1.0, 'd', ?)",
                (nonce, body),
            )
        raw.execute("INSERT INTO attachments VALUES (2, 0, 'a8.bin', 'data:,x')")
    raw.close()
    j = Journal(path)
    (old1, _), (old2, _) = j.pending()
    assert j.get(old1).body["attachments"] == [attachment(7, 2)]
    assert j.get(old2).body["attachments"] == [{"name": "a8.bin", "url": "data:,x"}]
    assert j.record(make_request()) == (old1, False)
    new, is_new = j.record(make_request(round_=2, nonce="n3"))
    assert is_new and j.get(new).body["round"] == 2
    j.mark(old1, "dispatched", repo="o/t")
    assert j.earlier_checks("t", 2, "o/t") == ["c"]
    j.close()


@pytest.mark.parametrize("writers", [2, 20], ids=["two", "twenty"])
def test_concurrent_records_in_batches_all_land(tmp_path: Path, writers: int) -> None:
    batches: list[int] = []
    j = Journal(tmp_path / "j.sqlite3")
    write_batch = j._write_batch

    def counting(rows: list[Any]) -> list[tuple[int, bool]]:
        batches.append(len(rows))
        return write_batch(rows)

    j._commits.close()
    j._commits = GroupCommit(counting, "test-writer")
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

    commits: GroupCommit[int, int] = GroupCommit(write, "test-writer")
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
    while commits._queue.qsize() < 2:
        time.sleep(0.001)
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert calls == [[0], [12, 13]]
    assert outcomes == {0: 0, 12: "disk I/O error", 13: "disk I/O error"}
    assert commits.submit(4) == 40
    commits.close()


def test_an_event_loop_caller_awaits_its_batch(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")

    async def burst() -> list[tuple[int, bool]]:
        reqs = [make_request(nonce=f"n{i % 5}") for i in range(10)]
        return await asyncio.gather(*(j.record_async(r) for r in reqs))

    results = asyncio.run(burst())
    j.close()
    assert [is_new for _, is_new in results] == [True] * 5 + [False] * 5
    assert [rid for rid, _ in results[:5]] == [rid for rid, _ in results[5:]]
