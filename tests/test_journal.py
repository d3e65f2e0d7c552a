"""The journal: idempotent, durable across reopen, thread-safe, and its status is secret-free."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from receiver.forge import Repo
from receiver.journal import Journal
from receiver.request import DeployRequest

SECRETS = ("hunter2", "student@example.com", "https://eval.example/notify", "PLAINTEXT BRIEF")


def make_request(task: str = "t", round_: int = 1, nonce: str = "n1") -> DeployRequest:
    return DeployRequest(
        email="student@example.com", secret="hunter2", task=task, round=round_, nonce=nonce,
        brief="PLAINTEXT BRIEF", evaluation_url="https://eval.example/notify", checks=["c"],
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
