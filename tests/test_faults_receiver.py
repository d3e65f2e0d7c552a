"""Receiver faults: the receiver as a subprocess (real uvicorn) in GitHub mode against the fake
GitHub, SIGKILLed at each step of a job (seen in its journal), restarted, and raced.

``serve`` is the subprocess entry point (also used by bench/load.py): the real app and
GitHubForge, with GitHub's 1 s write spacing off so a job takes a second, not ten.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.fakes.github import FakeGitHub
from tests.support import free_port

if TYPE_CHECKING:
    from tests.reliability import Recorder

pytest_plugins = ["tests.reliability"]

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_SECRET = "receiver-fault-secret-0123456789"
TOKEN = "ghp_receiver_fault_token_0123"
EMAIL = "kill-test@example.com"
EVAL_URL = "https://eval.example/private-kill-endpoint"
BRIEF = "A page titled 'Kill test' that shows the number 7 in #n."


def serve() -> None:
    """Subprocess entry: the receiver app under uvicorn with settings from the environment."""
    import logging

    import uvicorn

    from receiver.app import create_app
    from receiver.config import Settings
    from receiver.github.forge import GitHubForge

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    settings = Settings.from_environ()
    forge = GitHubForge.from_settings(settings, seconds_between_writes=0.0)
    uvicorn.run(
        create_app(settings, forge=forge),
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level="warning",
    )


class Receiver:
    """One receiver subprocess on a data folder; ``kill`` sends SIGKILL."""

    def __init__(self, data: Path, github: FakeGitHub, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            DEPLOY_SECRET=DEPLOY_SECRET,
            GITHUB_TOKEN=TOKEN,
            GITHUB_API_URL=github.url,
            LLM_DEPLOY_DATA=str(data),
            PORT=str(self.port),
            LLM_API_KEY="sk-receiver-llm-key-42",
            LLM_DEPLOY_WORKFLOW_TIMEOUT="20",
            LLM_DEPLOY_SETTLE_SECONDS="2",  # how long GitHub may take to show a run
            PYTHONPATH=str(ROOT),
        )
        env.pop("GITHUB_OWNER", None)
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.test_faults_receiver import serve; serve()"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, log.read_text()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self._log.closed:
            self._log.close()


def body(task: str, round_: int = 1, nonce: str = "n1") -> dict[str, Any]:
    return {
        "email": EMAIL,
        "secret": DEPLOY_SECRET,
        "task": task,
        "round": round_,
        "nonce": nonce,
        "brief": BRIEF,
        "checks": ["js: 1 === 1"],
        "evaluation_url": EVAL_URL,
        "attachments": [],
    }


def query(data: Path, sql: str) -> list[sqlite3.Row]:
    db = data / "journal.sqlite3"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # the schema is not there yet
    finally:
        con.close()


def facts(data: Path) -> set[str]:
    return {f for r in query(data, "SELECT facts FROM repos") for f in json.loads(r["facts"])}


def states(data: Path) -> list[str]:
    return [r["state"] for r in query(data, "SELECT state FROM requests ORDER BY id")]


def steps(data: Path) -> set[str]:
    return {r["step"] for r in query(data, "SELECT step FROM steps")}


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, every: float = 0.003) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


FINAL = {"dispatched", "failed", "dispatch-uncertain"}

# step → how the journal shows it is done (what the test waits for before the SIGKILL)
KILL_AT: dict[str, Callable[[Path], bool]] = {
    "accepted": lambda d: bool(states(d)),
    "repo": lambda d: "repo" in steps(d),
    "workflow": lambda d: "workflow" in facts(d),
    "secret": lambda d: "secret:LLM_DEPLOY_PAYLOAD_KEY" in facts(d),
    "pages": lambda d: "pages" in facts(d),
    "dispatching": lambda d: "dispatching" in states(d),
}


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, registration_lag=0) as fake:
        yield fake


@pytest.fixture
def fake(github: FakeGitHub) -> FakeGitHub:
    github.repos.clear()
    github.requests.clear()
    github.dispatches.clear()
    github.faults.clear()
    github.delay = 0.08  # each GitHub answer takes 80 ms, so every step is visible in the journal
    return github


def leak_free(log: Path, fake: FakeGitHub) -> None:
    from tests.test_leaks import scan_for_leaks

    private = {
        "deploy secret": DEPLOY_SECRET,
        "token": TOKEN,
        "email": EMAIL,
        "evaluation url": EVAL_URL,
        "brief": BRIEF,
        "llm key": "sk-receiver-llm-key-42",
    }
    files = [
        f"{p}: {c!r}" for r in fake.repos.values() for b in r.files.values() for p, c in b.items()
    ]
    inputs = [json.dumps(d.inputs) for d in fake.dispatches]
    assert scan_for_leaks([log, *files, *inputs], private) == []


@pytest.mark.parametrize("step", list(KILL_AT))
def test_sigkill_at_each_step_then_restart_dispatches_once(
    fake: FakeGitHub, tmp_path: Path, step: str, reliability: Recorder
) -> None:
    data, log = tmp_path / "data", tmp_path / "receiver.log"
    first = Receiver(data, fake, log)
    try:
        answer = httpx.post(first.url + "/api-deploy", json=body(f"kill-{step}"), timeout=10)
        assert answer.status_code == 200
        wait_for(lambda: KILL_AT[step](data))
    finally:
        first.kill()
    seen = states(data)
    second = Receiver(data, fake, log)
    # Counted once the restarted receiver is up: a killed dispatch still in flight has landed, and
    # a resend cannot have happened yet (it waits for the settle interval, 2 s here, first).
    sent_before_restart = len(fake.dispatches)
    try:
        wait_for(lambda: bool(states(data)) and states(data)[0] in FINAL)
        time.sleep(0.3)  # anything still in flight would show up as a second dispatch
        final = states(data)[0]
        error = query(data, "SELECT error FROM requests")[0]["error"]
    finally:
        second.stop()
    count = len(fake.dispatches)
    behaviour = "resumed from the journal"
    if step == "dispatching":  # outcome unknown at the kill: settled by asking GitHub
        behaviour = (
            "dispatch outcome unknown at the kill: the restarted receiver found the run by its "
            "run-name (llm-deploy <dispatch id>) and recorded it, without resending"
            if sent_before_restart
            else "dispatch outcome unknown at the kill: no run by its run-name, even after the "
            "settle wait, so it was sent once"
        )
    reliability.record(
        "Receiver",
        f"SIGKILL after step '{step}' (journal showed {seen}), restart on same data",
        behaviour,
        sent=1,
        dispatched=count,
        duplicated=max(0, count - 1),
        lost=0,
        final="" if final == "dispatched" else f"{final}: {error}",
    )
    assert final == "dispatched", error
    assert count == 1  # a kill mid-dispatch never makes a second run
    leak_free(log, fake)


def test_restart_on_an_empty_data_folder_recovers_the_repo_for_round_2(
    fake: FakeGitHub, tmp_path: Path, reliability: Recorder
) -> None:
    log = tmp_path / "receiver.log"
    first = Receiver(tmp_path / "disk-1", fake, log)
    try:
        assert httpx.post(first.url + "/api-deploy", json=body("fresh-disk"), timeout=10).is_success
        wait_for(lambda: states(tmp_path / "disk-1") == ["dispatched"])
    finally:
        first.stop()
    second = Receiver(tmp_path / "disk-2", fake, log)  # a host that lost its disk
    try:
        answer = httpx.post(
            second.url + "/api-deploy", json=body("fresh-disk", 2, "n2"), timeout=10
        )
        assert answer.status_code == 200
        wait_for(lambda: states(tmp_path / "disk-2") == ["dispatched"])
    finally:
        second.stop()
    assert [d.repo for d in fake.dispatches] == ["octo-user/fresh-disk"] * 2
    # one task repo; the other is the Action the receiver published into the account at start
    assert sorted(fake.repos) == ["octo-user/fresh-disk", "octo-user/llm-deploy-action"]
    leak_free(log, fake)
    reliability.record(
        "Receiver",
        "restart on an EMPTY data folder, then round 2",
        "task → repo recovered from GitHub (repo listing + description marker); round 2 "
        "dispatched to the round-1 repo; no new repo",
        sent=2,
        dispatched=len(fake.dispatches),
    )


def test_racing_deliveries_of_one_request_make_one_record_and_one_dispatch(
    fake: FakeGitHub, tmp_path: Path, reliability: Recorder
) -> None:
    data, log = tmp_path / "data", tmp_path / "receiver.log"
    receiver = Receiver(data, fake, log)
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        with httpx.Client(timeout=10) as c:
            barrier.wait()
            answers.append(c.post(receiver.url + "/api-deploy", json=body("race")).json())

    try:
        threads = [threading.Thread(target=deliver) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_for(lambda: states(data) == ["dispatched"])
        time.sleep(0.3)
    finally:
        receiver.stop()
    assert len(answers) == 8 and all(a["status"] == "accepted" for a in answers)
    assert sum(1 for a in answers if not a.get("duplicate")) == 1
    assert len(query(data, "SELECT id FROM requests")) == 1
    assert len(fake.dispatches) == 1
    reliability.record(
        "Receiver",
        "8 deliveries of one request racing",
        "all answered 200 (7 marked duplicate); one journal record; one dispatch",
        sent=1,
        dispatched=len(fake.dispatches),
    )
