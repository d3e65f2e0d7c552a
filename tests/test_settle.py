"""Settling a dispatch a restart left unsure: the run is looked up by its run-name, never guessed.

The receiver "dies" mid-dispatch by a ``Crash`` (a BaseException, so the worker cannot turn it into
a failed state) raised from the forge's dispatch, before or after the dispatch reached the forge;
a new worker on the same journal then settles the request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from receiver.config import Settings
from receiver.forge import Dispatch, ForgeError, Repo, run_name_matches
from receiver.github.forge import GitHubForge
from receiver.journal import Journal
from receiver.local.forge import LocalForge
from receiver.settle import Verdict, look_up
from receiver.worker import Worker
from receiver.workflow import WORKFLOW_FILE
from tests.fakes.github import FakeGitHub
from tests.fakes.memory_forge import MemoryForge
from tests.test_worker import SETTINGS, req

SETTLE = 0.3  # seconds; production waits 20


class Crash(BaseException):
    """The receiver process dying."""


class DiesInFirstDispatch:
    """A forge that dies in its first dispatch, after sending it when ``sent``."""

    def __init__(self, *, sent: bool, **kw: Any) -> None:
        super().__init__(**kw)
        self.sent, self.dying = sent, True

    def dispatch(self, repo: Repo, workflow_file: str, inputs: dict[str, str]) -> Dispatch:
        forge: Any = super()
        if self.dying:
            self.dying = False
            if self.sent:
                forge.dispatch(repo, workflow_file, inputs)
            raise Crash
        return forge.dispatch(repo, workflow_file, inputs)


class DyingMemoryForge(DiesInFirstDispatch, MemoryForge):
    pass


class DyingGitHubForge(DiesInFirstDispatch, GitHubForge):
    pass


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j.close()


def die_mid_dispatch(journal: Journal, forge: Any, settings: Settings = SETTINGS) -> int:
    rid, _ = journal.record(req())
    with pytest.raises(Crash):
        Worker(settings, journal, forge).process(rid)
    assert journal.get(rid).state == "dispatching"
    return rid


def restart(journal: Journal, forge: Any, settings: Settings = SETTINGS) -> float:
    """A new worker on the same journal, drained; returns the seconds it took."""
    began = time.monotonic()
    worker = Worker(settings, journal, forge, settle_interval=SETTLE)
    worker.start()
    assert worker.drain(30)
    worker.stop()
    return time.monotonic() - began


# -- the lookup itself ---------------------------------------------------------------------------
class Lookups:
    def __init__(self, *answers: str | Exception | None) -> None:
        self.answers, self.calls, self.waits = list(answers), 0, list[float]()

    def find(self) -> str | None:
        answer = self.answers[self.calls]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False


@pytest.mark.parametrize(
    ("answers", "verdict", "calls"),
    [
        (("https://run/1",), Verdict.STARTED, 1),
        ((None, "https://run/1"), Verdict.STARTED, 2),
        ((None, None), Verdict.ABSENT, 2),
        ((ForgeError("GitHub kept failing (500) when trying to list runs."),), Verdict.UNKNOWN, 1),
        ((None, RuntimeError("bug")), Verdict.UNKNOWN, 2),
    ],
    ids=["found", "found-after-lag", "absent", "forge-error", "crash"],
)
def test_look_up_waits_once_before_calling_a_run_absent(
    answers: tuple[str | Exception | None, ...], verdict: Verdict, calls: int
) -> None:
    lookups = Lookups(*answers)
    found, detail = look_up(lookups.find, settle_interval=7.0, wait=lookups.wait)
    assert found is verdict and lookups.calls == calls
    assert lookups.waits == [7.0] * (calls - 1)
    if verdict is Verdict.STARTED:
        assert detail == "https://run/1"
    if verdict is Verdict.UNKNOWN:
        assert detail and not detail.endswith(".")


def test_look_up_cut_short_by_a_stop_decides_nothing() -> None:
    calls: list[int] = []
    found, _ = look_up(lambda: calls.append(1), settle_interval=60, wait=lambda s: True)
    assert found is Verdict.INTERRUPTED and calls == [1]


@pytest.mark.parametrize(
    ("name", "dispatch_id", "matches"),
    [
        ("llm-deploy abc123", "abc123", True),
        ("llm-deploy abc1234", "abc123", False),
        ("llm-deploy manual run", "", False),
        (None, "abc123", False),
    ],
    ids=["own", "longer-id", "empty-id", "no-name"],
)
def test_run_name_matches_whole_ids_only(name: str | None, dispatch_id: str, matches: bool) -> None:
    assert run_name_matches(name, dispatch_id) is matches


# -- worker + memory forge -----------------------------------------------------------------------
def test_memory_run_that_started_is_settled_without_a_second_dispatch(journal: Journal) -> None:
    forge = DyingMemoryForge(sent=True)
    rid = die_mid_dispatch(journal, forge)
    restart(journal, forge)
    entry = journal.get(rid)
    assert entry.state == "dispatched" and entry.error is None
    assert entry.run_url == forge.repos["demo"].run_urls[0]
    assert len(forge.all_dispatches()) == 1 and forge.count("find_run") == 1  # found at once


def test_memory_run_that_never_started_is_dispatched_once_after_the_settle_wait(
    journal: Journal,
) -> None:
    forge = DyingMemoryForge(sent=False)
    rid = die_mid_dispatch(journal, forge)
    elapsed = restart(journal, forge)
    entry = journal.get(rid)
    assert entry.state == "dispatched", entry.error
    ((name, inputs),) = forge.all_dispatches()
    assert name == "demo" and inputs["dispatch-id"] == entry.dispatch_id
    assert entry.run_url == forge.repos["demo"].run_urls[0]
    assert forge.count("find_run") == 2 and elapsed >= SETTLE
    assert forge.count("create_repo") == 1  # the rest of the work was not redone


def test_memory_run_created_late_is_found_on_the_second_lookup(journal: Journal) -> None:
    forge = DyingMemoryForge(sent=True)
    rid = die_mid_dispatch(journal, forge)
    forge.run_lag = 1  # the forge has not shown the run yet at the first lookup
    elapsed = restart(journal, forge)
    assert journal.get(rid).state == "dispatched"
    assert len(forge.all_dispatches()) == 1 and forge.count("find_run") == 2
    assert elapsed >= SETTLE


def test_memory_lookup_failure_keeps_dispatch_uncertain(journal: Journal) -> None:
    forge = DyingMemoryForge(sent=False)
    rid = die_mid_dispatch(journal, forge)
    forge.fail["find_run"] = "GitHub kept failing (502) when trying to list the workflow's runs."
    restart(journal, forge)
    entry = journal.get(rid)
    assert entry.state == "dispatch-uncertain"
    assert f"llm-deploy {entry.dispatch_id}" in (entry.error or "")
    assert "GitHub kept failing (502)" in (entry.error or "")
    assert forge.all_dispatches() == []


def test_settling_does_not_block_start_and_a_stop_leaves_it_for_the_next_start(
    journal: Journal,
) -> None:
    forge = DyingMemoryForge(sent=False)
    rid = die_mid_dispatch(journal, forge)
    worker = Worker(SETTINGS, journal, forge, settle_interval=60)
    began = time.monotonic()
    worker.start()
    assert time.monotonic() - began < 5  # not the 60 s settle wait
    deadline = time.monotonic() + 10
    while forge.count("find_run") < 1:  # the first lookup missed; the worker now waits 60 s
        assert time.monotonic() < deadline
        time.sleep(0.01)
    worker.stop()  # cuts the wait short instead of holding shutdown for a minute
    assert time.monotonic() - began < 20
    assert journal.get(rid).state == "dispatching" and forge.all_dispatches() == []
    restart(journal, forge)
    assert journal.get(rid).state == "dispatched" and len(forge.all_dispatches()) == 1


# -- worker + GitHubForge + fake GitHub ----------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(registration_lag=0) as server:
        yield server
        assert server.violations == []


def github_settings(fake: FakeGitHub, tmp_path: Path) -> Settings:
    return Settings(
        deploy_secret="s3cret",
        github_token=fake.token,
        github_api_url=fake.url,
        llm_api_key="sk-llm-key",
        data_dir=tmp_path,
        workflow_timeout=20.0,
        action_ref="octo/llm-deploy-action@" + "d4" * 20,
    )


def github_forge(fake: FakeGitHub, sleeps: list[float], *, sent: bool) -> DyingGitHubForge:
    return DyingGitHubForge(
        sent=sent,
        token=fake.token,
        api_url=fake.url,
        sleep=sleeps.append,
        seconds_between_writes=0.0,
    )


def run_listings(fake: FakeGitHub) -> int:
    return len(fake.calls("GET", f"/actions/workflows/{WORKFLOW_FILE}/runs"))


def test_github_run_that_started_is_found_by_its_run_name(
    fake: FakeGitHub, journal: Journal, tmp_path: Path
) -> None:
    settings, sleeps = github_settings(fake, tmp_path), list[float]()
    forge = github_forge(fake, sleeps, sent=True)
    rid = die_mid_dispatch(journal, forge, settings)
    (sent,) = fake.dispatches
    entry = journal.get(rid)
    # The rendered workflow's run-name is what the lookup matches.
    assert sent.title == f"llm-deploy {entry.dispatch_id}"
    restart(journal, forge, settings)
    entry = journal.get(rid)
    assert entry.state == "dispatched" and entry.error is None
    assert entry.run_url == f"https://github.com/{sent.repo}/actions/runs/{sent.run_id}"
    assert len(fake.dispatches) == 1 and run_listings(fake) == 1


def test_github_run_that_never_started_is_dispatched_once_after_the_settle_wait(
    fake: FakeGitHub, journal: Journal, tmp_path: Path
) -> None:
    settings, sleeps = github_settings(fake, tmp_path), list[float]()
    forge = github_forge(fake, sleeps, sent=False)
    rid = die_mid_dispatch(journal, forge, settings)
    assert fake.dispatches == []
    elapsed = restart(journal, forge, settings)
    entry = journal.get(rid)
    assert entry.state == "dispatched", entry.error
    (sent,) = fake.dispatches
    assert sent.inputs["dispatch-id"] == entry.dispatch_id
    assert entry.run_url == f"https://github.com/{sent.repo}/actions/runs/{sent.run_id}"
    assert run_listings(fake) == 2 and elapsed >= SETTLE
    assert len(fake.calls("POST", "/user/repos")) == 1


def test_github_run_shown_late_is_not_dispatched_again(
    fake: FakeGitHub, journal: Journal, tmp_path: Path
) -> None:
    settings, sleeps = github_settings(fake, tmp_path), list[float]()
    forge = github_forge(fake, sleeps, sent=True)
    fake.run_lag = 1  # GitHub has not created the run yet at the first listing
    rid = die_mid_dispatch(journal, forge, settings)
    restart(journal, forge, settings)
    assert journal.get(rid).state == "dispatched"
    assert len(fake.dispatches) == 1 and run_listings(fake) == 2


def test_github_lookup_failing_with_5xx_keeps_dispatch_uncertain(
    fake: FakeGitHub, journal: Journal, tmp_path: Path
) -> None:
    settings, sleeps = github_settings(fake, tmp_path), list[float]()
    forge = github_forge(fake, sleeps, sent=True)
    rid = die_mid_dispatch(journal, forge, settings)
    fake.inject(500, "Server Error", times=100, method="GET", path_contains="/runs")
    restart(journal, forge, settings)
    entry = journal.get(rid)
    assert entry.state == "dispatch-uncertain"
    assert f"llm-deploy {entry.dispatch_id}" in (entry.error or "")
    assert "(500)" in (entry.error or "")
    assert len(fake.dispatches) == 1  # the run that did start is not doubled
    assert run_listings(fake) == 6 and sleeps == [1, 2, 4, 8, 16]  # the forge's usual retries


# -- the local forge -----------------------------------------------------------------------------
class _Runner:
    def __init__(self) -> None:
        self.next_id = 0

    def allocate_run_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def run(self, repo: str, wf: str, inputs: dict[str, str], *, run_id: int) -> None:
        pass


def test_local_forge_finds_its_runs_by_dispatch_id_after_a_restart(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9"
    forge = LocalForge(tmp_path, public_url=url, runner=_Runner())
    repo = forge.create_repo("demo", "d")
    other = forge.create_repo("other", "d")
    assert forge.find_run(repo, WORKFLOW_FILE, "abc") is None
    forge.dispatch(repo, WORKFLOW_FILE, {"payload": "x", "dispatch-id": "abc"})
    forge.dispatch(other, WORKFLOW_FILE, {"payload": "x", "dispatch-id": "def"})
    fresh = LocalForge(tmp_path, public_url=url)  # what a restarted receiver sees
    assert fresh.find_run(repo, WORKFLOW_FILE, "abc") == f"{url}/runs/1"
    assert fresh.find_run(other, WORKFLOW_FILE, "def") == f"{url}/runs/2"
    assert fresh.find_run(repo, WORKFLOW_FILE, "def") is None
    assert fresh.find_run(repo, "other.yml", "abc") is None
    assert fresh.find_run(repo, WORKFLOW_FILE, "") is None
