"""Issue 11 item 7: a repo belongs to one exact task id, and task ids cannot forge log lines.

``a/b/c`` and ``a b c`` share the base name ``a-b-c``; a round 2 for the never-seen ``a b c``
used to revise the repo of ``a/b/c``. Each case runs the real worker against the in-memory forge,
with the journal kept or lost (recovery then reads only what the forge shows).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from receiver.journal import Journal
from receiver.request import DeployRequest
from tests.fakes.memory_forge import MemoryForge
from tests.test_worker import SETTINGS, req, run


def _journal(tmp_path: Path, name: str) -> Journal:
    return Journal(tmp_path / f"{name}.sqlite3")


@pytest.mark.parametrize("lost_disk", [False, True], ids=["same-journal", "lost-journal"])
def test_round_two_of_another_task_id_never_revises_the_repo(
    tmp_path: Path, lost_disk: bool
) -> None:
    forge = MemoryForge()
    first = _journal(tmp_path, "first")
    run(first, forge, req(task="a/b/c", nonce="r1"))
    second = _journal(tmp_path, "second") if lost_disk else first
    (rid,) = run(second, forge, req(task="a b c", round_=2, nonce="r2"))
    assert second.get(rid).repo == "octo/a-b-c-2"
    assert len(forge.repos["a-b-c"].dispatches) == 1  # the repo of a/b/c was left alone
    (rid,) = run(second, forge, req(task="a/b/c", round_=2, nonce="r3"))
    assert second.get(rid).repo == "octo/a-b-c"  # its own task still finds it, journal or not
    assert len(forge.repos["a-b-c"].dispatches) == 2
    assert len(forge.repos["a-b-c-2"].dispatches) == 1
    first.close()
    if lost_disk:
        second.close()


def test_round_one_of_a_colliding_task_id_gets_a_suffixed_name(tmp_path: Path) -> None:
    forge = MemoryForge()
    journal = _journal(tmp_path, "j")
    ids = run(
        journal,
        forge,
        req(task="a/b/c", nonce="1"),
        req(task="a b c", nonce="2"),
        req(task="a?b?c", nonce="3"),
    )
    # Different tasks run in parallel, so which one wins the plain name is not fixed.
    assert sorted(journal.get(i).repo or "" for i in ids) == [
        "octo/a-b-c",
        "octo/a-b-c-2",
        "octo/a-b-c-3",
    ]
    journal.close()


def test_a_newline_in_a_task_id_forges_no_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    forge = MemoryForge()
    forge.fail["create_repo"] = "GitHub said no."
    journal = _journal(tmp_path, "j")
    forged = "x\nINFO llm_deploy.worker task=victim round=1 step=dispatched"
    request = DeployRequest(
        email="s@example.com",
        secret="s",
        task=forged,
        round=1,
        nonce="n",
        brief="b",
        evaluation_url="https://eval.example/n",
    )
    with caplog.at_level(logging.INFO, logger="llm_deploy"):
        run(journal, forge, request, settings=SETTINGS)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("llm_deploy")]
    assert messages and all("\n" not in m and "\r" not in m for m in messages)
    assert any("x\\nINFO" in m for m in messages)  # shown escaped, still readable
    journal.close()
