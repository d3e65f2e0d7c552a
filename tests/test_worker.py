"""The worker against an in-memory forge: resumable, exactly-once, one repo per round 1."""

from __future__ import annotations

import base64
import dataclasses
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from action.payload import decode_key, encode_key, open_sealed
from receiver.config import Settings
from receiver.journal import Journal, repo_to_json
from receiver.request import DeployRequest, parse_request
from receiver.worker import SIDE_BRANCH, Worker, dispatch_inputs
from receiver.workflow import WORKFLOW_PATH
from tests.conftest import load_task
from tests.fakes.memory_forge import MemoryForge

SETTINGS = Settings.from_environ(
    {
        "DEPLOY_SECRET": "test-secret-123",
        "LLM_API_KEY": "sk-llm",
        "GITHUB_TOKEN": "ghp_x",
        "GITHUB_WORKFLOW_TOKEN": "ghp_wf",
        "LLM_DEPLOY_WORKFLOW_TIMEOUT": "5",
        "LLM_DEPLOY_ACTION_REF": "octo/llm-deploy-action@" + "c3" * 20,
    }
)


def req(task: str = "demo", round_: int = 1, nonce: str = "n1", **extra: object) -> DeployRequest:
    body = {
        "email": "s@example.com",
        "secret": "test-secret-123",
        "task": task,
        "round": round_,
        "nonce": nonce,
        "brief": "Build it.",
        "checks": ["js: 1"],
        "evaluation_url": "https://eval.example/notify",
        "attachments": [],
        **extra,
    }
    return parse_request(body)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


@pytest.fixture
def forge() -> MemoryForge:
    return MemoryForge()


def run(
    journal: Journal, forge: MemoryForge, *requests: DeployRequest, settings: Settings = SETTINGS
) -> list[int]:
    """Record the requests, then let a fresh worker drain them; return their ids."""
    ids = [journal.record(r)[0] for r in requests]
    worker = Worker(settings, journal, forge)
    worker.start()
    for i, r in zip(ids, requests, strict=True):
        worker.submit(i, r.task)
    assert worker.drain(20)
    worker.stop()
    return ids


def test_github_mode_without_a_published_action_fails_before_making_a_repo(
    journal: Journal, forge: MemoryForge
) -> None:
    (rid,) = run(journal, forge, req(), settings=dataclasses.replace(SETTINGS, action_ref=None))
    entry = journal.get(rid)
    assert entry.state == "failed" and "llm-deploy doctor --fix" in (entry.error or "")
    assert forge.repos == {} and journal.task_repos("demo") == []


def test_round_one_creates_commits_secures_and_dispatches(
    journal: Journal, forge: MemoryForge
) -> None:
    body = load_task("LLMPages-r1")
    (rid,) = run(journal, forge, parse_request(body))
    entry = journal.get(rid)
    assert entry.state == "dispatched", entry.error
    state = forge.repos["LLMPages"]
    assert WORKFLOW_PATH in state.files and state.pages
    assert f"uses: octo/llm-deploy-action@{'c3' * 20}\n".encode() in state.files[WORKFLOW_PATH]
    assert set(state.secrets) == {"LLM_DEPLOY_PAYLOAD_KEY", "LLM_API_KEY", "LLM_DEPLOY_PUSH_TOKEN"}
    assert state.secrets["LLM_API_KEY"] == "sk-llm"
    (inputs,) = state.dispatches
    assert set(inputs) == {"payload", "dispatch-id"} and inputs["dispatch-id"] == entry.dispatch_id
    key = decode_key(state.secrets["LLM_DEPLOY_PAYLOAD_KEY"])
    assert encode_key(key) == journal.payload_key("octo/LLMPages")
    job = open_sealed(inputs["payload"], key)
    assert (job.task, job.round, job.nonce, job.email) == (
        body["task"],
        1,
        body["nonce"],
        body["email"],
    )
    assert job.brief == body["brief"] and job.received_at == entry.received_at
    assert [a.name for a in job.attachments] == [a["name"] for a in body["attachments"]]
    assert all(a.data for a in job.attachments)
    assert entry.run_url == "https://example.test/octo/LLMPages/actions/runs/1"
    # Secrets and plaintext never travel in the inputs.
    assert "test-secret-123" not in str(inputs) and body["brief"][:30] not in str(inputs)


@pytest.mark.parametrize(
    ("taken", "expected"),
    [(set(), ["demo", "demo-2", "demo-3"]), ({"demo", "demo-2"}, ["demo-3", "demo-4", "demo-5"])],
    ids=["own-repeats", "names-taken-elsewhere"],
)
def test_each_round_one_gets_a_new_repo(
    journal: Journal, forge: MemoryForge, taken: set[str], expected: list[str]
) -> None:
    forge.taken = taken
    ids = run(journal, forge, req(nonce="a"), req(nonce="b"), req(nonce="c"))
    assert [journal.get(i).repo for i in ids] == [f"octo/{n}" for n in expected]
    assert sorted(forge.repos) == expected
    assert all(len(forge.repos[n].dispatches) == 1 for n in expected)


def test_round_two_revises_the_newest_repo_cheaply(journal: Journal, forge: MemoryForge) -> None:
    run(journal, forge, req(nonce="a"), req(nonce="b"))
    before = len(forge.calls)
    (rid,) = run(journal, forge, req(round_=2, nonce="c"))
    assert journal.get(rid).repo == "octo/demo-2"
    calls = forge.calls[before:]
    assert [m for m, _ in calls] == ["wait_for_workflow", "dispatch"]
    assert len(forge.repos["demo-2"].dispatches) == 2 and forge.repos["demo-2"].commits == 1


def test_round_two_on_a_fresh_disk_recovers_the_repo_from_the_forge(
    tmp_path: Path, journal: Journal, forge: MemoryForge
) -> None:
    run(journal, forge, req(nonce="a"), req(nonce="b"))
    fresh = Journal(tmp_path / "fresh.sqlite3")
    (rid,) = run(fresh, forge, req(round_=2, nonce="c"))
    assert fresh.get(rid).repo == "octo/demo-2" and fresh.get(rid).state == "dispatched"
    assert forge.count("create_repo") == 2 and forge.count("task_repos") == 1
    # The lost disk held the only copy of the payload key: a fresh one replaces the secret, and
    # the new dispatch opens with it (the journaled key and the repo secret agree).
    assert forge.count("set_secret") == 6 + 3
    state = forge.repos["demo-2"]
    key = decode_key(state.secrets["LLM_DEPLOY_PAYLOAD_KEY"])
    assert encode_key(key) == fresh.payload_key("octo/demo-2") != journal.payload_key("octo/demo-2")
    assert open_sealed(state.dispatches[-1]["payload"], key).round == 2
    fresh.close()


def test_an_undecodable_attachment_fails_the_round_before_any_forge_call(
    journal: Journal, forge: MemoryForge
) -> None:
    # The door only checks for a data: URI (decision 52); the decoder's sentence is the error.
    bad = dataclasses.replace(req(), attachments=[{"name": "a.bin", "url": "data:;base64,@@@"}])
    (rid,) = run(journal, forge, bad)
    entry = journal.get(rid)
    assert entry.state == "failed" and forge.calls == []
    assert entry.error == "Attachment 'a.bin' has data that is not valid base64."


def test_round_two_without_any_repo_creates_one(journal: Journal, forge: MemoryForge) -> None:
    (rid,) = run(journal, forge, req(round_=2))
    assert journal.get(rid).state == "dispatched" and WORKFLOW_PATH in forge.repos["demo"].files


def test_duplicate_submits_dispatch_once(journal: Journal, forge: MemoryForge) -> None:
    rid, _ = journal.record(req())
    worker = Worker(SETTINGS, journal, forge)
    worker.start()  # resumes rid from the journal
    for _ in range(5):
        worker.submit(rid, "demo")
    assert worker.drain(10)
    worker.submit(rid, "demo")  # already dispatched: a no-op
    assert worker.drain(10)
    worker.stop()
    assert forge.count("dispatch") == 1


def test_a_started_worker_takes_each_new_request_from_the_journal(
    journal: Journal, forge: MemoryForge
) -> None:
    worker = Worker(SETTINGS, journal, forge)
    worker.start()
    rid, _ = journal.record(req())  # nobody calls submit: the journal hands the id over
    assert worker.drain(10)
    worker.stop()
    assert journal.get(rid).state == "dispatched" and forge.count("dispatch") == 1
    later, _ = journal.record(req(nonce="n2"))  # a stopped worker queues it, starts nothing
    assert journal.get(later).state == "queued" and forge.count("dispatch") == 1


def test_restart_after_the_200_dispatches_exactly_once(tmp_path: Path, forge: MemoryForge) -> None:
    path = tmp_path / "j.sqlite3"
    first = Journal(path)
    rid, _ = first.record(req())  # the receiver answered 200, then was killed
    first.close()
    for _ in range(3):  # three restarts in a row
        journal = Journal(path)
        worker = Worker(SETTINGS, journal, forge)
        worker.start()
        assert worker.drain(10)
        worker.stop()
        assert journal.get(rid).state == "dispatched"
        journal.close()
    assert forge.count("dispatch") == 1 and forge.count("create_repo") == 1


def test_resume_reuses_the_repo_already_created(journal: Journal, forge: MemoryForge) -> None:
    rid, _ = journal.record(req())
    repo = forge.create_repo("demo", "d")  # created, then the receiver died
    journal.add_repo("demo", repo)
    journal.add_repo_fact(repo.full_name, "created")
    journal.step(rid, "repo", repo_to_json(repo))
    run(journal, forge)
    assert journal.get(rid).state == "dispatched"
    assert forge.count("create_repo") == 1 and WORKFLOW_PATH in forge.repos["demo"].files


def test_request_left_dispatching_is_not_sent_again(journal: Journal, forge: MemoryForge) -> None:
    rid, _ = journal.record(req())
    journal.mark(rid, "dispatching")
    run(journal, forge)
    entry = journal.get(rid)
    assert entry.state == "dispatch-uncertain" and entry.dispatch_id in (entry.error or "")
    assert forge.count("dispatch") == 0


def test_large_payload_travels_on_a_side_branch(journal: Journal, forge: MemoryForge) -> None:
    blob = base64.b64encode(os.urandom(80_000)).decode()
    url = f"data:application/octet-stream;base64,{blob}"
    big = req(attachments=[{"name": "noise.bin", "url": url}])
    (rid,) = run(journal, forge, big)
    entry = journal.get(rid)
    assert entry.state == "dispatched", entry.error
    state = forge.repos["demo"]
    (inputs,) = state.dispatches
    assert inputs["payload"] == f"ref:{SIDE_BRANCH}:{entry.dispatch_id}.txt"
    sealed = state.side_files[(SIDE_BRANCH, f"{entry.dispatch_id}.txt")].decode()
    job = open_sealed(sealed, decode_key(forge.repos["demo"].secrets["LLM_DEPLOY_PAYLOAD_KEY"]))
    assert job.attachments[0].data == base64.b64decode(blob)


@pytest.mark.parametrize("size", [100, 60_000], ids=["small", "over-cap"])
def test_dispatch_inputs_respect_the_cap(size: int) -> None:
    inputs, side = dispatch_inputs("x" * size, "id1")
    assert side == (size > 65_000)
    assert len(str(inputs)) <= 65_535


def test_forge_failure_is_journaled_and_logged(
    journal: Journal, forge: MemoryForge, caplog: pytest.LogCaptureFixture
) -> None:
    forge.fail["enable_pages"] = "The token lacks the Pages and Administration permissions."
    with caplog.at_level(logging.INFO, logger="llm_deploy.worker"):
        (rid,) = run(journal, forge, req())
    entry = journal.get(rid)
    assert entry.state == "failed" and "Pages" in (entry.error or "")
    assert forge.count("dispatch") == 0
    assert "task=demo round=1 step=failed elapsed=" in caplog.text
    assert "task=demo round=1 step=repo elapsed=" in caplog.text
    assert "test-secret-123" not in caplog.text and "s@example.com" not in caplog.text


def test_registration_lag_is_waited_out(journal: Journal, forge: MemoryForge) -> None:
    forge.registration_lag = 0.3
    (rid,) = run(journal, forge, req())
    assert journal.get(rid).state == "dispatched" and forge.count("dispatch") == 1


def test_unregistered_workflow_is_recommitted_then_reported(
    journal: Journal, forge: MemoryForge
) -> None:
    fast = dataclasses.replace(SETTINGS, workflow_timeout=0.2)
    forge.never_register.add("demo")
    (rid,) = run(journal, forge, req(), settings=fast)
    entry = journal.get(rid)
    assert entry.state == "failed" and "never registered" in (entry.error or "")
    assert forge.repos["demo"].commits == 2 and forge.count("dispatch") == 0


def test_twenty_tasks_in_parallel_each_dispatch_once(journal: Journal, forge: MemoryForge) -> None:
    forge.dispatch_delay = 0.02
    requests = [req(task=f"task-{i}", nonce=f"n{i}") for i in range(20)]
    requests += [req(task="task-0", round_=2, nonce="r2")]
    ids = run(journal, forge, *requests)
    assert all(journal.get(i).state == "dispatched" for i in ids)
    dispatched = forge.all_dispatches()
    assert len(dispatched) == 21 and len({d["dispatch-id"] for _, d in dispatched}) == 21
    # Round 2 ran after round 1 of the same task, on its repo.
    assert journal.get(ids[-1]).repo == "octo/task-0" and len(forge.repos) == 20


def test_round_two_of_a_known_repo_needs_no_published_action(
    journal: Journal, forge: MemoryForge
) -> None:
    run(journal, forge, req())
    unpublished = dataclasses.replace(SETTINGS, action_ref=None)
    (second,) = run(journal, forge, req(round_=2, nonce="n2"), settings=unpublished)
    assert journal.get(second).state == "dispatched", journal.get(second).error


def _sealed_job(forge: MemoryForge, name: str, index: int = -1) -> object:
    state = forge.repos[name]
    key = decode_key(state.secrets["LLM_DEPLOY_PAYLOAD_KEY"])
    return open_sealed(state.dispatches[index]["payload"], key)


def test_later_rounds_carry_the_earlier_checks_of_their_own_repo(
    journal: Journal, forge: MemoryForge
) -> None:
    first = req(nonce="a", checks=["js: document.title === 'Old'"])  # a repo of its own
    second = req(nonce="b", checks=["js: 1 === 1", {"js": "!!window.x"}])
    run(journal, forge, first, second)
    assert _sealed_job(forge, "demo-2").previous_checks == []  # round 1 has no earlier round
    run(journal, forge, req(round_=2, nonce="c", checks=["js: 2 === 2", "js: 1 === 1"]))
    round_two = _sealed_job(forge, "demo-2")
    assert round_two.previous_checks == ["js: 1 === 1", {"js": "!!window.x"}]
    run(journal, forge, req(round_=3, nonce="d", checks=["js: 3 === 3"]))
    assert _sealed_job(forge, "demo-2").previous_checks == [
        "js: 1 === 1",
        {"js": "!!window.x"},
        "js: 2 === 2",
    ]
